"""Search as you type: ``Index.complete`` latency on an existing index, as typed.

    python benchmarks/bench_complete.py --index /tmp/ix1m --corpus /tmp/news-1m-heaps.jsonl

The typed texts come from the benchmark's title queries (``stacks.title_queries``: the
same 200 queries as bench_query), each typed a character at a time ("p", "pe", "pem",
..., "pemerintah k", ...): every keystroke is one completion. Reported: the first
completion of a fresh process (it computes each segment's tops of one- and two-byte
prefixes), then the median and p95 of every keystroke, and by length of the word being
typed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import load_articles
from stacks import title_queries

import searchlib


def keystrokes(queries: list[str]) -> list[str]:
    typed = []
    for query in queries:
        for end in range(1, len(query) + 1):
            if query[end - 1] != " ":
                typed.append(query[:end])
    return typed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--corpus", required=True, help="the articles the index holds")
    parser.add_argument("--sample", type=int, default=20_000, help="articles to draw from")
    args = parser.parse_args()
    queries = title_queries(load_articles(args.corpus, limit=args.sample))
    typed = keystrokes(queries)
    with searchlib.Index.open(args.index) as ix:
        started = time.perf_counter()
        ix.complete(typed[0])
        first = (time.perf_counter() - started) * 1000
        times: list[float] = []
        by_length: dict[int, list[float]] = {}
        offered = 0
        for text in typed:
            started = time.perf_counter()
            found = ix.complete(text)
            took = (time.perf_counter() - started) * 1000
            times.append(took)
            last = text.rsplit(" ", 1)[-1]
            by_length.setdefault(min(len(last), 5), []).append(took)
            offered += bool(found.words)
        print(f"index {args.index}: {len(ix):,} articles; {len(typed)} keystrokes of "
              f"{len(queries)} queries")  # fmt: skip
    times.sort()
    print(f"  first completion of the process: {first:.1f} ms")
    print(f"  every keystroke: p50 {statistics.median(times):.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)]:.2f} ms; words offered for "
          f"{offered / len(typed):.0%}")  # fmt: skip
    for length, samples in sorted(by_length.items()):
        label = f"{length}+" if length == 5 else str(length)
        print(f"  last word {label} characters: p50 {statistics.median(samples):.2f} ms")


if __name__ == "__main__":
    main()
