"""What recency costs in relevance: the judged sets with publication dates drawn at random.

    python benchmarks/eval_recency.py --corpus ../shared/corpus/indosum-news.jsonl

The judged answers know nothing of dates, so with dates assigned at random a recency
blend can only move answers away from the top: the drop in MRR@10 against the same
index without recency is its cost. Dates are drawn uniformly from the ``--years``
before a fixed origin (seeded), the origin is the newest possible date, and each row
is one ``Recency`` (function, scale, weight) over the sets of
``benchmarks/eval_relevance.py``: FacQA questions and keyword queries, and with
``--corpus`` news lead-sentence queries. The recommended recency
(``searchlib.query.recency.RECOMMENDED_RECENCY``) is marked; the issue's bound is a drop
of at most 0.005.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ROOT, load_articles
from eval_relevance import evaluate, keyword_query, lead_queries, load_facqa, plain

from searchlib import Analyzer, Index, Recency
from searchlib.analysis.lexicon import sastrawi_stopwords
from searchlib.query.ranking import DEFAULT_RANKING
from searchlib.query.recency import RECOMMENDED_RECENCY

ORIGIN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def dated(records: list[dict], years: float, rng: random.Random) -> list[dict]:
    span = years * 365 * 86_400
    return [
        {**r, "published": (ORIGIN - timedelta(seconds=rng.uniform(0, span))).isoformat()}
        for r in records
    ]


def candidates() -> dict[str, Recency]:
    out = {}
    for function in ("exp", "gauss"):
        for scale in ("7d", "30d", "90d"):
            for weight in (0.05, 0.1, 0.2, 0.5):
                out[f"{function} {scale} w{weight:g}"] = Recency(
                    scale=scale, function=function, weight=weight, origin=ORIGIN
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relevance", default=str(ROOT.parent / "shared/relevance/facqa-train"))
    parser.add_argument("--corpus", default=None, help="news JSON Lines for the lead set")
    parser.add_argument("--years", type=float, default=2.0, help="dates drawn over this span")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    passages, queries, qrels = load_facqa(Path(args.relevance))
    analyzer = Analyzer(stopwords=sastrawi_stopwords())
    doc_freq: Counter = Counter()
    for passage in passages:
        doc_freq.update({t.term for t in analyzer.analyze(passage["body"])})
    judged = [q for q in queries if q["id"] in qrels]
    questions = [(plain(q["text"]), qrels[q["id"]]) for q in judged]
    keywords = [(keyword_query(q["text"], analyzer, doc_freq), qrels[q["id"]]) for q in judged]
    keywords = [(text, rel) for text, rel in keywords if text]
    with tempfile.TemporaryDirectory() as temp:
        facqa = Index.create(Path(temp) / "facqa")
        facqa.add(dated(passages, args.years, rng))
        sets = [("questions", facqa, questions), ("keywords", facqa, keywords)]
        if args.corpus:
            articles = load_articles(args.corpus)
            news = Index.create(Path(temp) / "news")
            news.add(dated(articles, args.years, rng))
            sets.append(("news lead", news, lead_queries(articles, analyzer, 500)))
        print(f"dates uniform over the {args.years:g} years before {ORIGIN.date()}")
        print("MRR@10 (its change against no recency)")
        print(f"{'recency':28}" + "".join(f"{name:>22}" for name, *_ in sets))
        base = {name: evaluate(ix, queries_, DEFAULT_RANKING)[0] for name, ix, queries_ in sets}
        print(f"{'off':28}" + "".join(f"{base[name]:>22.4f}" for name, *_ in sets))
        recommended = replace(RECOMMENDED_RECENCY, origin=ORIGIN)
        rows = {"recommended": recommended, **candidates()}
        for label, recency in rows.items():
            ranking = replace(DEFAULT_RANKING, recency=recency)
            cells = []
            for name, ix, queries_ in sets:
                mrr = evaluate(ix, queries_, ranking)[0]
                cells.append(f"{mrr:.4f} ({mrr - base[name]:+.4f})")
            if label == "recommended":
                label = f"* {recency.function} {recency.scale / 86_400:g}d w{recency.weight:g}"
            print(f"{label:28}" + "".join(f"{cell:>22}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
