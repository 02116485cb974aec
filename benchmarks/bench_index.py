"""Build speed, memory and size: searchlib against naive Whoosh, SQLite FTS5 and tantivy,
each in a fresh process, medians of --runs.

    python benchmarks/bench_index.py --corpus /tmp/news-50k.jsonl --n 50000

(make the corpus with benchmarks/make_corpus.py). Default corpus: seeds/. A ratio in
brackets is how many times searchlib is better (faster, smaller, leaner) than that peer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runner import bench_main

COLUMNS = [
    ("build_s", "build s", "lower"),
    ("docs_per_s", "docs/s", "higher"),
    ("peak_rss_mb", "peak RSS MB", "lower"),
    ("size_mb", "size MB", "lower"),
]


def main() -> None:
    bench_main(__doc__, COLUMNS, queries=False)


if __name__ == "__main__":
    main()
