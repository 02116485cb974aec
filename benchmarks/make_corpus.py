"""Larger benchmark corpora: N articles resampled from real sentences (fixed seed).

    python benchmarks/make_corpus.py --source ../shared/corpus/indosum-news.jsonl \
        --n 50000 --out /tmp/news-50k.jsonl

Each article takes a real title, category and source, and a body of 6-18 sentences
drawn from articles of the same category, so vocabulary and its Zipf shape stay
realistic. Ids and dates are synthetic.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_CORPUS, load_articles

SENTENCE = re.compile(r"(?<=[.!?])\s+")


def generate(articles: list[dict], n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    for article in articles:
        sentences = [s for s in SENTENCE.split(article.get("body") or "") if len(s) > 20]
        pools.setdefault(article.get("category") or "", []).extend(sentences)
    every = [s for pool in pools.values() for s in pool] or ["Tidak ada isi."]
    out = []
    start = date(2017, 1, 1)
    for number in range(n):
        model = rng.choice(articles)
        pool = pools.get(model.get("category") or "") or every
        body = " ".join(rng.choice(pool) for _ in range(rng.randint(6, 18)))
        out.append(
            {
                "id": f"g{number}",
                "title": model.get("title") or "",
                "body": body,
                "category": model.get("category"),
                "source": model.get("source"),
                "published": (start + timedelta(days=rng.randrange(1826))).isoformat(),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_CORPUS))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    articles = generate(load_articles(args.source), args.n, args.seed)
    with open(args.out, "w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article, ensure_ascii=False) + "\n")
    print(f"wrote {len(articles)} articles to {args.out}")


if __name__ == "__main__":
    main()
