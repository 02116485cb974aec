"""Runs stacks.py in fresh processes and summarizes medians (shared by the bench_* scripts)."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STACKS = ("searchlib", "whoosh", "sqlite", "tantivy")


def available(stack: str) -> bool:
    probe = {
        "tantivy": "import tantivy",
        "sqlite": "import sqlite3; sqlite3.connect(':memory:')"
        ".execute('create virtual table t using fts5(x)')",
    }.get(stack, "pass")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def run(action: str, stack: str, corpus: str, n: int, folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "stacks.py"), action, stack, corpus, str(n), str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{stack} {action} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(stacks: list[str], corpus: str, n: int, runs: int, queries: bool) -> dict:
    """Median figures per stack over ``runs`` fresh builds (and query runs). Runs are
    interleaved (every stack once, then again), so drifting machine load hits all
    stacks alike."""
    present = []
    for stack in stacks:
        if available(stack):
            present.append(stack)
        else:
            print(f"skipping {stack}: not installed (pip install '.[bench]')", file=sys.stderr)
    samples: dict[str, list[dict]] = {stack: [] for stack in present}
    for _ in range(runs):
        for stack in present:
            folder = Path(tempfile.mkdtemp(prefix=f"bench-{stack}-"))
            try:
                sample = run("build", stack, corpus, n, folder / "ix")
                if queries:
                    sample.update(run("query", stack, corpus, n, folder / "ix"))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            samples[stack].append(sample)
            print(f"  {stack}: {json.dumps(sample)}", file=sys.stderr, flush=True)
    results: dict[str, dict] = {}
    for stack, taken in samples.items():
        keys = [k for k, v in taken[0].items() if isinstance(v, (int, float)) and k != "pid"]
        results[stack] = {k: statistics.median(s[k] for s in taken) for k in keys}
    return results


def table(results: dict, columns: list[tuple[str, str, str]], base: str = "searchlib") -> str:
    """A Markdown table; each figure with its ratio to ``base`` (x = base is better)."""
    header = "| stack | " + " | ".join(title for _, title, _ in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    for stack, figures in results.items():
        cells = []
        for key, _title, better in columns:
            value = figures.get(key)
            if value is None:
                cells.append("-")
                continue
            cell = f"{value:,.1f}"
            reference = results.get(base, {}).get(key)
            if stack != base and reference:
                ratio = value / reference if better == "lower" else reference / value
                cell += f" ({ratio:.1f}x)"
            cells.append(cell)
        lines.append(f"| {stack} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bench_main(doc: str, columns: list[tuple[str, str, str]], queries: bool) -> None:
    """The command line shared by bench_index.py and bench_query.py."""
    import argparse

    from _corpus import DEFAULT_CORPUS

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--n", type=int, default=0, help="articles (resampled if more)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stacks", default=",".join(STACKS))
    args = parser.parse_args()
    results = measure(args.stacks.split(","), args.corpus, args.n, args.runs, queries=queries)
    docs = next(iter(results.values()), {}).get("docs", 0)
    print(f"corpus {args.corpus}, {docs:,.0f} articles, medians of {args.runs} runs")
    print(table(results, columns))
