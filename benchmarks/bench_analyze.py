"""Analysis speed: tokens/s cold (empty stem cache) and warm, distinct words stemmed/s,
and, in the same run, the floor: regex tokenization plus one dict lookup per token.

    python benchmarks/bench_analyze.py --corpus ../shared/corpus/indosum-news.jsonl

Default corpus: seeds/. Figures are medians of --runs runs.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_CORPUS, load_articles

from searchlib.analysis import Analyzer
from searchlib.analysis import stemmer as stemmer_module
from searchlib.analysis.stemmer import StemCache
from searchlib.analysis.steps import Stem

WORD = re.compile(r"\w+")


def _texts(articles: list[dict]) -> list[str]:
    return [f"{a.get('title') or ''}\n{a.get('body') or ''}" for a in articles]


def _time(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def run_once(texts: list[str]) -> dict[str, float]:
    stems = StemCache()
    analyzer = Analyzer().replace("stem", Stem(stems))
    stemmer_module._sastrawi()  # load the dictionary untimed
    cold, token_count = _time(lambda: sum(len(analyzer.analyze(t)) for t in texts))
    distinct = len(stems)
    warm, _ = _time(lambda: sum(len(analyzer.analyze(t)) for t in texts))
    words = list(stems.export())
    fresh = StemCache()
    stem_time, _ = _time(lambda: [fresh.stem(w) for w in words])
    lookup = {w: analyzer.term(w) for t in texts[:200] for w in WORD.findall(t.lower())}

    def floor() -> int:
        count = 0
        get = lookup.get
        for text in texts:
            for word in WORD.findall(text.lower()):
                get(word)
                count += 1
        return count

    floor_time, floor_tokens = _time(floor)
    return {
        "tokens": token_count,
        "cold_tps": token_count / cold,
        "warm_tps": token_count / warm,
        "distinct_stemmed": distinct,
        "stems_per_s": len(words) / stem_time if stem_time else float("inf"),
        "floor_tps": floor_tokens / floor_time,
        "warm_over_floor": warm / floor_time,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        default=str(DEFAULT_CORPUS),
        help="JSON Lines file or folder of .txt articles (default: seeds/)",
    )
    parser.add_argument("--limit", type=int, default=None, help="use the first N articles")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    texts = _texts(load_articles(args.corpus, args.limit))
    runs = [run_once(texts) for _ in range(args.runs)]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"corpus: {args.corpus} ({len(texts)} articles, {int(median('tokens')):,} tokens)")
    print(f"cold analysis (empty stem cache): {median('cold_tps'):>12,.0f} tokens/s")
    print(f"warm analysis:                    {median('warm_tps'):>12,.0f} tokens/s")
    print(f"floor (regex + dict lookup):      {median('floor_tps'):>12,.0f} tokens/s")
    print(f"warm time / floor time:           {median('warm_over_floor'):>12.2f}x")
    print(
        f"distinct words stemmed: {int(median('distinct_stemmed')):,} "
        f"at {median('stems_per_s'):,.0f} words/s (Sastrawi)"
    )


if __name__ == "__main__":
    main()
