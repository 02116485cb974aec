"""Opening an existing index and its first query, each run in a fresh process (the OS
page cache warm, as on a server that restarts): medians of --runs, opened warm (the
default: ``Index.open`` builds the snapshot, synonyms and tokenizer a first search
needs) and cold (``warm=False``: the first search builds them), alternating.

    python benchmarks/bench_open.py --index /tmp/ix1m --runs 5

The first query is a three-word query with snippets; opened cold, it pays for building
the snapshot (live documents, lengths, dates, labels) and loading ICU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
started = time.perf_counter()
import searchlib
imported = time.perf_counter()
ix = searchlib.Index.open(sys.argv[1], warm=sys.argv[2] == "warm")
opened = time.perf_counter()
results = ix.search("pemerintah kota banjir", limit=10)
[hit.snippet.html() for hit in results]
searched = time.perf_counter()
print(json.dumps({"import_s": imported - started, "open_s": opened - imported,
                  "first_query_ms": (searched - opened) * 1000, "articles": len(ix)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[dict]] = {"warm": [], "cold": []}
    for _ in range(args.runs):
        for mode, taken in samples.items():
            done = subprocess.run(
                [sys.executable, "-c", CHILD, args.index, mode],
                capture_output=True,
                text=True,
                check=True,
            )
            taken.append(json.loads(done.stdout.strip().splitlines()[-1]))
    articles = samples["warm"][0]["articles"]
    print(f"index {args.index}: {articles:,} articles, medians of {args.runs} fresh processes")
    for mode, taken in samples.items():
        figures = {k: statistics.median(s[k] for s in taken) for k in taken[0] if k != "articles"}
        total = figures["open_s"] * 1000 + figures["first_query_ms"]
        print(
            f"  opened {mode}: import {figures['import_s']:.3f} s, open {figures['open_s']:.3f} s,"
            f" first query {figures['first_query_ms']:.1f} ms (open + first query {total:.0f} ms)"
        )


if __name__ == "__main__":
    main()
