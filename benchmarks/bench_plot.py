"""Scaling plot: docs/s and query p50 (with snippets) against corpus size for searchlib
and its peers, written as a PNG.

    python benchmarks/bench_plot.py --corpus ../shared/corpus/indosum-news.jsonl \\
        --sizes 10000,25000,50000,100000 --out benchmarks/scaling.png
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
    series: dict[str, dict[str, list]] = {}
    for size in sizes:
        results = measure(args.stacks.split(","), args.corpus, size, args.runs, queries=True)
        for stack, figures in results.items():
            entry = series.setdefault(stack, {"n": [], "docs_per_s": [], "snip_p50_ms": []})
            entry["n"].append(size)
            entry["docs_per_s"].append(figures["docs_per_s"])
            entry["snip_p50_ms"].append(figures["snip_p50_ms"])
        print(json.dumps({"size": size, "results": results}))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for stack, entry in series.items():
        left.plot(entry["n"], entry["docs_per_s"], marker="o", label=stack)
        right.plot(entry["n"], entry["snip_p50_ms"], marker="o", label=stack)
    left.set(title="Build speed (analysis included)", xlabel="articles", ylabel="docs/s")
    right.set(title="Query p50, top 10 with snippets", xlabel="articles", ylabel="ms", yscale="log")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
