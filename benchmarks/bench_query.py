"""Query latency, top 10, without and with snippets: searchlib against naive Whoosh,
SQLite FTS5 and tantivy; 200 fixed title queries (2-4 content words, fixed seed);
each stack in a fresh process, medians of --runs.

    python benchmarks/bench_query.py --corpus /tmp/news-50k.jsonl --n 50000

A ratio in brackets is how many times searchlib is faster than that peer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runner import bench_main

COLUMNS = [
    ("p50_ms", "p50 ms", "lower"),
    ("p95_ms", "p95 ms", "lower"),
    ("snip_p50_ms", "+snippets p50 ms", "lower"),
    ("snip_p95_ms", "+snippets p95 ms", "lower"),
]
BUILD = [
    ("docs_per_s", "docs/s", "higher"),
    ("peak_rss_mb", "peak RSS MB", "lower"),
    ("size_mb", "size MB", "lower"),
]


def main() -> None:
    bench_main(__doc__, BUILD + COLUMNS, queries=True)


if __name__ == "__main__":
    main()
