"""Relevance on the judged IndoNLU FacQA set: MRR@10 and Recall@10 for ranking settings.

    python benchmarks/eval_relevance.py --relevance ../shared/relevance/facqa-train

Two kinds of query over the same 1,369 passages: the 2,495 questions as written
(long, question-style), and keyword queries derived from each question (its three
rarest content words, the way people type into a search box). Each row is one
``Ranking``; the default is marked. Optionally ``--corpus`` adds a title-boost check on
news articles: the query is three rare content words of an article's lead sentence and
the article is the relevant answer.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ROOT, load_articles

from searchlib import Analyzer, Index, Ranking
from searchlib.analysis.lexicon import function_stopwords, sastrawi_stopwords
from searchlib.query.ranking import DEFAULT_RANKING

SYNTAX = re.compile(r'["()*~+:^\[\]{}]|(?<!\w)-|\b(?:AND|OR|NOT)\b')


def plain(text: str) -> str:
    """Query text with our query-syntax characters neutralized."""
    return SYNTAX.sub(" ", text)


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def load_facqa(folder: Path):
    passages = [json.loads(line) for line in _lines(folder / "corpus.jsonl") if line]
    queries = [json.loads(line) for line in _lines(folder / "queries.jsonl") if line]
    qrels: dict[str, set[str]] = {}
    for line in _lines(folder / "qrels.tsv"):
        query_id, doc_id, relevance = line.split("\t")
        if int(relevance) > 0:
            qrels.setdefault(query_id, set()).add(doc_id)
    return passages, queries, qrels


def keyword_query(text: str, analyzer: Analyzer, doc_freq: Counter, words: int = 3) -> str:
    tokens = [t for t in analyzer.analyze(plain(text)) if t.primary and len(t.norm) > 2]
    seen: dict[str, str] = {}
    for token in tokens:
        seen.setdefault(token.term, token.text)
    ranked = sorted(seen, key=lambda term: (doc_freq[term], term))[:words]
    return " ".join(seen[term] for term in ranked)


def evaluate(ix: Index, queries: list[tuple[str, set[str]]], ranking: Ranking) -> tuple:
    reciprocal, recalled = 0.0, 0
    for text, relevant in queries:
        ids = ix.search(text, limit=10, ranking=ranking, snippets=False).ids()
        for rank, doc_id in enumerate(ids, start=1):
            if doc_id in relevant:
                reciprocal += 1 / rank
                break
        recalled += bool(relevant & set(ids))
    return reciprocal / len(queries), recalled / len(queries)


RANKINGS = {
    "default": DEFAULT_RANKING,
    "stems only (exact_boost=0)": Ranking(exact_boost=0.0),
    "exact_boost=0.25": Ranking(exact_boost=0.25),
    "exact_boost=1.0": Ranking(exact_boost=1.0),
    "no coordination": Ranking(coordination=False),
    "no coordination, exact_boost=0": Ranking(coordination=False, exact_boost=0.0),
    "k1=0.9 b=0.4": Ranking(k1=0.9, b=0.4),
    "k1=1.5 b=0.9": Ranking(k1=1.5, b=0.9),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relevance", default=str(ROOT.parent / "shared/relevance/facqa-train"))
    parser.add_argument("--corpus", default=None, help="news JSON Lines for the title check")
    parser.add_argument("--title-queries", type=int, default=500)
    args = parser.parse_args()
    folder = Path(args.relevance)
    if not folder.is_dir():
        sys.exit(f"no relevance set at {folder} (pass --relevance)")
    passages, queries, qrels = load_facqa(folder)
    # Keyword queries are defined with PySastrawi's stopwords (as when these figures
    # began), so they stay the same queries whatever list the index uses.
    analyzer = Analyzer(stopwords=sastrawi_stopwords())
    doc_freq: Counter = Counter()
    for passage in passages:
        doc_freq.update({t.term for t in analyzer.analyze(passage["body"])})
    questions = [(plain(q["text"]), qrels[q["id"]]) for q in queries if q["id"] in qrels]
    keywords = [
        (keyword_query(q["text"], analyzer, doc_freq), qrels[q["id"]])
        for q in queries
        if q["id"] in qrels
    ]
    keywords = [(text, rel) for text, rel in keywords if text]
    with tempfile.TemporaryDirectory() as temp:
        ix = Index.create(Path(temp) / "facqa")
        ix.add(passages)
        print(
            f"FacQA: {len(passages)} passages, {len(questions)} questions, "
            f"{len(keywords)} keyword queries"
        )
        print(f"{'ranking':34} {'questions MRR@10 R@10':>24} {'keywords MRR@10 R@10':>24}")
        for name, ranking in RANKINGS.items():
            started = time.perf_counter()
            q_mrr, q_rec = evaluate(ix, questions, ranking)
            k_mrr, k_rec = evaluate(ix, keywords, ranking)
            seconds = time.perf_counter() - started
            print(
                f"{name:34} {q_mrr:>14.4f} {q_rec:>8.4f} {k_mrr:>15.4f} {k_rec:>8.4f}"
                f"   ({seconds:.1f} s)"
            )
        if args.corpus:
            title_check(Path(temp), args.corpus, args.title_queries, analyzer)
            stopword_policy(Path(temp), args.corpus, passages, questions, keywords)


def fragment_queries(
    articles: list[dict], dropped: frozenset[str], stops: frozenset[str], count: int
) -> tuple[list, list]:
    """Known-item queries from titles: three consecutive title words (relevant: the
    article); and the ones holding a word that only the longer stopword list drops."""
    rng = random.Random(11)
    every, holding = [], []
    for article in rng.sample(articles, len(articles)):
        words = re.findall(r"[a-z]+", (article.get("title") or "").lower())
        if len(words) < 3:
            continue
        start = rng.randrange(len(words) - 2)
        fragment = words[start : start + 3]
        if all(w in stops for w in fragment):
            continue
        every.append((" ".join(fragment), {article["id"]}))
        content = [i for i, w in enumerate(words) if w in dropped]
        if content:
            at = rng.choice(content)
            around = words[max(0, at - 1) : at + 2]
            holding.append((" ".join(around), {article["id"]}))
    return every[:count], holding[:count]


def stopword_policy(temp: Path, corpus: str, passages, questions, keywords) -> None:
    """PySastrawi's stopword list against searchlib's function words: relevance on
    FacQA and on title fragments of the news corpus, index size and build time."""
    articles = load_articles(corpus)
    lists = {"PySastrawi (758)": sastrawi_stopwords(), "searchlib": function_stopwords()}
    dropped = lists["PySastrawi (758)"] - lists["searchlib"]
    every, holding = fragment_queries(articles, dropped, lists["searchlib"], 1000)
    print(
        f"\nStopword lists: FacQA questions and keywords; {len(every)} title fragments; "
        f"{len(holding)} title fragments holding a word only PySastrawi drops"
    )
    print(f"{'list':18} {'questions':>10} {'keywords':>9} {'fragments':>10} {'holding':>8}"
          f" {'index MB':>9} {'build s':>8}")  # fmt: skip
    for name, stops in lists.items():
        analyzer = Analyzer(stopwords=stops)
        facqa = Index.create(temp / f"facqa-{len(stops)}", analyzer=analyzer)
        facqa.add(passages)
        q_mrr, _ = evaluate(facqa, questions, DEFAULT_RANKING)
        k_mrr, _ = evaluate(facqa, keywords, DEFAULT_RANKING)
        started = time.perf_counter()
        news = Index.create(temp / f"news-{len(stops)}", analyzer=analyzer, workers=1)
        news.add(articles)
        built = time.perf_counter() - started
        f_mrr, _ = evaluate(news, every, DEFAULT_RANKING)
        h_mrr, _ = evaluate(news, holding, DEFAULT_RANKING)
        size = news.stats()["size_bytes"] / 1e6
        print(f"{name:18} {q_mrr:>10.4f} {k_mrr:>9.4f} {f_mrr:>10.4f} {h_mrr:>8.4f}"
              f" {size:>9.1f} {built:>8.1f}")  # fmt: skip


def title_check(temp: Path, corpus: str, count: int, analyzer: Analyzer) -> None:
    articles = load_articles(corpus)
    ix = Index.create(temp / "news")
    ix.add(articles)
    doc_freq: Counter = Counter()
    for article in articles:
        doc_freq.update({t.term for t in analyzer.analyze(article["body"][:2000])})
    rng = random.Random(7)
    chosen = rng.sample(articles, min(count, len(articles)))
    queries = []
    for article in chosen:
        lead = re.split(r"(?<=[.!?])\s", article["body"].strip(), maxsplit=1)[0]
        text = keyword_query(lead, analyzer, doc_freq)
        if text:
            queries.append((text, {article["id"]}))
    print(f"\nNews lead-sentence keyword queries: {len(queries)} over {len(articles)} articles")
    for boost in (0.0, 1.0, 2.0, 3.0):
        ranking = Ranking(field_boosts={"title": boost, "body": 1.0})
        mrr, rec = evaluate(ix, queries, ranking)
        marker = "  (default)" if boost == DEFAULT_RANKING.field_boosts.get("title") else ""
        print(f"title boost {boost:<4} MRR@10 {mrr:.4f}  R@10 {rec:.4f}{marker}")
    if not math.isfinite(mrr):
        raise SystemExit("evaluation failed")


if __name__ == "__main__":
    main()
