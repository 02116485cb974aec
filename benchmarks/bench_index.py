"""Build speed, memory and size: searchlib against naive Whoosh, SQLite FTS5 and tantivy,
each in a fresh process, medians of --runs.

    python benchmarks/bench_index.py --corpus /tmp/news-50k.jsonl --n 50000

(make the corpus with benchmarks/make_corpus.py). Default corpus: seeds/. A ratio in
brackets is how many times searchlib is better (faster, smaller, leaner) than that peer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_CORPUS
from _runner import STACKS, measure, table

COLUMNS = [
    ("build_s", "build s", "lower"),
    ("docs_per_s", "docs/s", "higher"),
    ("peak_rss_mb", "peak RSS MB", "lower"),
    ("size_mb", "size MB", "lower"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--n", type=int, default=0, help="articles (resampled if more)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stacks", default=",".join(STACKS))
    args = parser.parse_args()
    results = measure(args.stacks.split(","), args.corpus, args.n, args.runs, queries=False)
    docs = next(iter(results.values()), {}).get("docs", 0)
    print(f"corpus {args.corpus}, {docs:,.0f} articles, medians of {args.runs} runs")
    print(table(results, COLUMNS))


if __name__ == "__main__":
    main()
