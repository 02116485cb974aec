"""Opening an existing index and its first query, each run in a fresh process (the OS
page cache warm, as on a server that restarts): medians of --runs.

    python benchmarks/bench_open.py --index /tmp/ix1m --runs 5

The first query is a three-word query with snippets; it pays for building the snapshot
(live documents, lengths, dates, labels) and importing what searching needs.
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
ix = searchlib.Index.open(sys.argv[1])
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
    samples = []
    for _ in range(args.runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, args.index], capture_output=True, text=True, check=True
        )
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    articles = samples[0]["articles"]
    print(f"index {args.index}: {articles:,} articles, medians of {args.runs} fresh processes")
    for key in ("import_s", "open_s", "first_query_ms"):
        print(f"  {key}: {statistics.median(s[key] for s in samples):.3f}")


if __name__ == "__main__":
    main()
