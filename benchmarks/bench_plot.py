"""Scaling plot: build speed, peak memory, index size and query latency (p50 and p95,
top 10 with snippets) against corpus size for searchlib and its peers, written as a
PNG, with the figures as a Markdown table. Each size is the first N articles of the
corpus (resampled when it has fewer).

    python benchmarks/make_corpus.py --source ../shared/corpus/indosum-news.jsonl \\
        --n 1000000 --out /tmp/news-1m.jsonl
    python benchmarks/bench_plot.py --corpus /tmp/news-1m.jsonl --stacks searchlib,tantivy \\
        --sizes 100000,250000,500000,1000000 --out docs/images/scaling.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_CORPUS
from _runner import STACKS, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--sizes", default="10000,25000,50000,100000")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--stacks", default=",".join(STACKS))
    parser.add_argument("--out", default="scaling.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [int(s) for s in args.sizes.split(",")]
    keys = [key for key, _title in PANELS] + ["snip_p95_ms"]
    series: dict[str, dict[str, list]] = {}
    rows = []
    for size in sizes:
        results = measure(args.stacks.split(","), args.corpus, size, args.runs, queries=True)
        for stack, figures in results.items():
            entry = series.setdefault(stack, {"n": [], **{key: [] for key in keys}})
            entry["n"].append(size)
            for key in keys:
                entry[key].append(figures[key])
            rows.append((size, stack, figures))
        print(json.dumps({"size": size, "results": results}), flush=True)
    figure, axes = plt.subplots(1, len(PANELS), figsize=(18, 4.2))
    for (key, title), axis in zip(PANELS, axes, strict=True):
        for number, (stack, entry) in enumerate(series.items()):
            color = f"C{number}"
            axis.plot(entry["n"], entry[key], marker="o", color=color, label=stack)
            if key == "snip_p50_ms":
                axis.plot(
                    entry["n"], entry["snip_p95_ms"], marker="x", linestyle="--", color=color,
                    label=f"{stack} p95",
                )  # fmt: skip
        axis.set(title=title, xlabel="articles")
        if key == "snip_p50_ms":
            axis.set(yscale="log")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    print("| articles | stack | docs/s | peak RSS MB | size MB | KB/article | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for size, stack, f in rows:
        print(
            f"| {size:,} | {stack} | {f['docs_per_s']:,.0f} | {f['peak_rss_mb']:,.0f} | "
            f"{f['size_mb']:,.0f} | {f['size_mb'] * 1000 / size:.2f} | "
            f"{f['snip_p50_ms']:.1f} | {f['snip_p95_ms']:.1f} |"
        )


PANELS = [
    ("docs_per_s", "Build speed (docs/s, analysis included)"),
    ("peak_rss_mb", "Peak RSS of the indexing process (MB)"),
    ("size_mb", "Index size (MB)"),
    ("snip_p50_ms", "Query top 10 + snippets (ms): p50, p95"),
]


if __name__ == "__main__":
    main()
