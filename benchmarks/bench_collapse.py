"""What collapsing syndicated copies costs: build speed with and without signing, and
query latency with and without ``collapse=True`` on the same index.

    python benchmarks/bench_collapse.py --corpus /tmp/news-1m-heaps.jsonl --n 1000000

Builds run in fresh processes, interleaved (signed, unsigned, signed, ...), as
``benchmarks/stacks.py`` builds searchlib (a commit every 10,000 articles); the
unsigned build leaves ``Signer.sign`` out (every article unsigned), so their ratio is
the cost of signing. The queries are bench_query.py's 200 title queries, top 10 with
snippets, each run without and then with collapsing, alternately, on the signed
index; medians over the queries, and how many hits collapsing folded away.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stacks import (
    QUERY_SOURCE,
    Counted,
    build_searchlib,
    dir_size_mb,
    percentile,
    stream,
    title_queries,
)

from searchlib.engine.signature import SIGNATURE_BYTES


def build(corpus: str, n: int, folder: Path, sign: bool) -> dict:
    """(In a fresh process) build the index, signing or not."""
    if not sign:
        from searchlib import indexing

        indexing.SIGNER.sign = lambda norms: b""  # type: ignore[method-assign]
    counted = Counted(stream(corpus, n))
    started = time.perf_counter()
    build_searchlib(counted, folder)
    seconds = time.perf_counter() - started
    return {"signed": sign, "docs_per_s": counted.count / seconds, "size_mb": dir_size_mb(folder)}


def query(corpus: str, n: int, folder: Path) -> dict:
    import searchlib

    queries = title_queries(list(islice(stream(corpus, n), QUERY_SOURCE)))
    ix = searchlib.Index.open(folder)
    for text in queries[:20]:  # warm the caches both ways
        ix.search(text, collapse=False)
        ix.search(text, collapse=True)
    times: dict[bool, list[float]] = {False: [], True: []}
    folded = 0
    for number, text in enumerate(queries):
        # Alternate which runs first: the second finds the first's postings cached.
        for collapse in (False, True) if number % 2 else (True, False):
            started = time.perf_counter()
            results = ix.search(text, limit=10, collapse=collapse)
            [hit.snippet.html() for hit in results if hit.snippet is not None]
            times[collapse].append(time.perf_counter() - started)
            if collapse:
                folded += sum(len(hit.duplicates or ()) for hit in results)
    plain, collapsed = times[False], times[True]
    return {
        "queries": len(queries),
        "p50_ms": statistics.median(plain) * 1000,
        "p95_ms": percentile(plain, 0.95) * 1000,
        "collapse_p50_ms": statistics.median(collapsed) * 1000,
        "collapse_p95_ms": percentile(collapsed, 0.95) * 1000,
        "p50_added_ms": statistics.median(c - p for p, c in zip(plain, collapsed, strict=True))
        * 1000,
        "copies_folded_in_top10": folded,
    }


def child(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1, help="builds of each kind")
    parser.add_argument("--child", nargs=3, metavar=("ACTION", "FOLDER", "SIGN"))
    args = parser.parse_args()
    if args.child:
        action, folder, sign = args.child
        if action == "build":
            result = build(args.corpus, args.n, Path(folder), sign == "1")
        else:
            result = query(args.corpus, args.n, Path(folder))
        print(json.dumps(result))
        return
    corpus_args = ["--corpus", args.corpus, "--n", str(args.n)]
    work = Path(tempfile.mkdtemp(prefix="bench-collapse-"))
    builds: dict[bool, list[dict]] = {True: [], False: []}
    try:
        for _ in range(args.runs):
            for sign in (True, False):
                folder = work / ("signed" if sign else "unsigned")
                shutil.rmtree(folder, ignore_errors=True)
                result = child(["build", str(folder), "1" if sign else "0", *corpus_args])
                builds[sign].append(result)
                print(f"  build {json.dumps(result)}", file=sys.stderr, flush=True)
        shutil.rmtree(work / "unsigned", ignore_errors=True)
        queried = child(["query", str(work / "signed"), "1", *corpus_args])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    signed = statistics.median(r["docs_per_s"] for r in builds[True])
    unsigned = statistics.median(r["docs_per_s"] for r in builds[False])
    size_signed = statistics.median(r["size_mb"] for r in builds[True])
    print(f"{args.n:,} articles, {args.runs} build(s) of each kind (medians)")
    print(f"build signed   {signed:8.0f} docs/s  {size_signed:9.1f} MB")
    print(f"build unsigned {unsigned:8.0f} docs/s")
    print(f"signing costs {100 * (unsigned / signed - 1):+.1f}% build time; the signatures "
          f"take {SIGNATURE_BYTES} bytes/article either way")  # fmt: skip
    print(
        f"queries ({queried['queries']}, top 10 + snippets): p50/p95 "
        f"{queried['p50_ms']:.2f}/{queried['p95_ms']:.2f} ms; collapse=True "
        f"{queried['collapse_p50_ms']:.2f}/{queried['collapse_p95_ms']:.2f} ms; "
        f"median added {queried['p50_added_ms']:+.2f} ms; "
        f"copies folded in the top 10s: {queried['copies_folded_in_top10']}"
    )


if __name__ == "__main__":
    main()
