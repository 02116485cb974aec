"""Relevance on the judged IndoNLU FacQA set: MRR@10 and Recall@10 for ranking settings.

    python benchmarks/eval_relevance.py --relevance ../shared/relevance/facqa-train

Two kinds of query over the same 1,369 passages: the 2,495 questions as written
(long, question-style), and keyword queries derived from each question (its three
rarest content words, the way people type into a search box). Each row is one
``Ranking``; the default is marked. Optionally ``--corpus`` adds a title-boost check on
news articles: the query is three rare content words of an article's lead sentence and
the article is the relevant answer; title fragments (three consecutive title words);
and acronym queries: an article whose title names an acronym or a long form of the
shipped synonyms (``searchlib/analysis/data/synonyms.txt``) is the answer to its other
form with two more title words (``KPK periksa menteri`` for a title that writes
"Komisi Pemberantasan Korupsi periksa menteri"). The ``synonyms off`` row searches the
words as typed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ROOT, load_articles

from searchlib import Analyzer, Index, Ranking, Synonyms
from searchlib.analysis.lexicon import function_stopwords, sastrawi_stopwords
from searchlib.analysis.synonyms import SynonymTable
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


def evaluate(
    ix: Index,
    queries: list[tuple[str, set[str]]],
    ranking: Ranking,
    synonyms: bool = True,
    collapse: bool = False,
) -> tuple:
    reciprocal, recalled = 0.0, 0
    for text, relevant in queries:
        found = ix.search(
            text, limit=10, ranking=ranking, snippets=False, synonyms=synonyms, collapse=collapse
        )
        ids = found.ids()
        for rank, doc_id in enumerate(ids, start=1):
            if doc_id in relevant:
                reciprocal += 1 / rank
                break
        recalled += bool(relevant & set(ids))
    return reciprocal / len(queries), recalled / len(queries)


def _grid() -> dict[str, Ranking]:
    """The rankings compared: the default, then title weight and exact-form weight
    one at a time, each with and without coordination."""
    out = {"default": DEFAULT_RANKING}
    base_title = DEFAULT_RANKING.field_boosts.get("title", 1.0)
    for coordination in (True, False):
        tag = "coord" if coordination else "no coord"
        for title in (1.0, 1.5, 2.0, 3.0, 5.0):
            out[f"{tag}, title {title:g}, exact {DEFAULT_RANKING.exact_boost:g}"] = Ranking(
                field_boosts={"title": title, "body": 1.0}, coordination=coordination
            )
        for exact in (0.0, 0.25, 0.5, 1.0, 2.0):
            out[f"{tag}, title {base_title:g}, exact {exact:g}"] = Ranking(
                exact_boost=exact, coordination=coordination
            )
    return out


SYNONYMS_OFF = "default, synonyms off"
# Syndicated copies collapsed, as the CLI and the page search by default.
COLLAPSED = "default, copies collapsed"

# Plain BM25 over title and body as one field: the baseline a combined score must beat.
ONE_FIELD = Ranking(field_boosts={"body": 1.0}, exact_boost=0.0, coordination=False)


def one_field(records: list[dict]) -> list[dict]:
    return [
        {"id": r["id"], "body": f"{r.get('title') or ''}\n{r.get('body') or ''}"} for r in records
    ]


def parse_ranking(spec: str) -> Ranking:
    """``title=3 exact=1 coord=0 k1=1.2 b=0.75`` as a Ranking (omitted: the default)."""
    values = dict(item.split("=", 1) for item in spec.split())
    title = float(values.get("title", DEFAULT_RANKING.field_boosts.get("title", 1.0)))
    return Ranking(
        k1=float(values.get("k1", DEFAULT_RANKING.k1)),
        b=float(values.get("b", DEFAULT_RANKING.b)),
        field_boosts={"title": title, "body": 1.0},
        exact_boost=float(values.get("exact", DEFAULT_RANKING.exact_boost)),
        coordination=values.get("coord", "1" if DEFAULT_RANKING.coordination else "0") == "1",
    )


def lead_queries(articles: list[dict], analyzer: Analyzer, count: int) -> list:
    """Keyword queries from each chosen article's lead sentence (its three rarest
    content words); the article is the relevant answer."""
    doc_freq: Counter = Counter()
    for article in articles:
        doc_freq.update({t.term for t in analyzer.analyze(article["body"][:2000])})
    rng = random.Random(7)
    queries = []
    for article in rng.sample(articles, min(count, len(articles))):
        lead = re.split(r"(?<=[.!?])\s", article["body"].strip(), maxsplit=1)[0]
        text = keyword_query(lead, analyzer, doc_freq)
        if text:
            queries.append((text, {article["id"]}))
    return queries


def acronym_queries(articles: list[dict], analyzer: Analyzer, count: int) -> list:
    """Known-item queries that name a title's acronym by its other form: the rule's
    other entry and two more content words of the title; the article is the answer."""
    table = SynonymTable(Synonyms.default(), analyzer)
    rng = random.Random(13)
    queries = []
    for article in rng.sample(articles, len(articles)):
        words = [t.norm for t in analyzer.analyze(article.get("title") or "") if t.primary]
        for at in range(len(words)):
            found = table.match(words, at)
            if found is None:
                continue
            length, outputs = found
            named = tuple(words[at : at + length])
            others = [o for o in outputs if table.words(o) != named]
            rest = [w for i, w in enumerate(words) if not at <= i < at + length and len(w) > 2]
            if others and len(rest) >= 2:
                chosen = rng.sample(rest, 2)
                queries.append((f"{rng.choice(others)} {' '.join(chosen)}", {article["id"]}))
            break
        if len(queries) >= count:
            break
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relevance", default=str(ROOT.parent / "shared/relevance/facqa-train"))
    parser.add_argument("--corpus", default=None, help="news JSON Lines for the title sets")
    parser.add_argument("--title-queries", type=int, default=500)
    parser.add_argument("--grid", action="store_true", help="every weight, +- coordination")
    parser.add_argument("--stopwords", action="store_true", help="compare stopword policies")
    parser.add_argument(
        "--try",
        dest="tries",
        action="append",
        default=[],
        metavar="SPEC",
        help="a ranking to add, e.g. 'title=3 exact=1 coord=0' (repeatable)",
    )
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
        sets: list[tuple[str, Index, Index, list]] = []
        facqa = Index.create(Path(temp) / "facqa")
        facqa.add(passages)
        facqa_flat = Index.create(Path(temp) / "facqa-one-field")
        facqa_flat.add(one_field(passages))
        sets += [("questions", facqa, facqa_flat, questions)]
        sets += [("keywords", facqa, facqa_flat, keywords)]
        print(
            f"FacQA: {len(passages)} passages, {len(questions)} questions, "
            f"{len(keywords)} keyword queries"
        )
        if args.corpus:
            articles = load_articles(args.corpus)
            news = Index.create(Path(temp) / "news")
            news.add(articles)
            news_flat = Index.create(Path(temp) / "news-one-field")
            news_flat.add(one_field(articles))
            leads = lead_queries(articles, analyzer, args.title_queries)
            fragments, _ = fragment_queries(articles, frozenset(), function_stopwords(), 1000)
            acronyms = acronym_queries(articles, news.analyzer, 500)
            sets += [("news lead", news, news_flat, leads), ("titles", news, news_flat, fragments)]
            sets += [("acronyms", news, news_flat, acronyms)]
            print(
                f"News: {len(articles)} articles, {len(leads)} lead-sentence keyword queries, "
                f"{len(fragments)} title fragments (known items), {len(acronyms)} acronym "
                "queries"
            )
        print("MRR@10 (R@10)")
        print(f"{'ranking':30}" + "".join(f"{name:>18}" for name, *_ in sets))
        rows = {"one field, plain BM25": ONE_FIELD, **(_grid() if args.grid else {})}
        if not args.grid:
            rows["default"] = DEFAULT_RANKING
            rows["default, no coordination"] = replace(DEFAULT_RANKING, coordination=False)
            rows[SYNONYMS_OFF] = DEFAULT_RANKING
            rows[COLLAPSED] = DEFAULT_RANKING
        rows.update({spec: parse_ranking(spec) for spec in args.tries})
        for name, ranking in rows.items():
            cells = []
            for _set, ix, flat, judged in sets:
                index = flat if ranking is ONE_FIELD else ix
                mrr, rec = evaluate(
                    index,
                    judged,
                    ranking,
                    synonyms=name != SYNONYMS_OFF,
                    collapse=name == COLLAPSED,
                )
                cells.append(f"{mrr:.4f} ({rec:.3f})")
            print(f"{name:30}" + "".join(f"{cell:>18}" for cell in cells), flush=True)
        if args.corpus and args.stopwords:
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
    sastrawi, function = sastrawi_stopwords(), function_stopwords()
    policies = {
        "PySastrawi list": Analyzer(stopwords=sastrawi),
        "searchlib list": Analyzer(stopwords=function),
        "PySastrawi, query": Analyzer(stopwords=sastrawi, stopword_mode="query"),
        "searchlib, query": Analyzer(stopwords=function, stopword_mode="query"),
    }
    dropped = sastrawi - function
    every, holding = fragment_queries(articles, dropped, function, 1000)
    print(
        f"\nStopword lists: FacQA questions and keywords; {len(every)} title fragments; "
        f"{len(holding)} title fragments holding a word only PySastrawi drops"
    )
    print(f"{'list':18} {'questions':>10} {'keywords':>9} {'fragments':>10} {'holding':>8}"
          f" {'index MB':>9} {'build s':>8}")  # fmt: skip
    for number, (name, analyzer) in enumerate(policies.items()):
        facqa = Index.create(temp / f"facqa-{number}", analyzer=analyzer)
        facqa.add(passages)
        q_mrr, _ = evaluate(facqa, questions, DEFAULT_RANKING)
        k_mrr, _ = evaluate(facqa, keywords, DEFAULT_RANKING)
        started = time.perf_counter()
        news = Index.create(temp / f"news-{number}", analyzer=analyzer, workers=1)
        news.add(articles)
        built = time.perf_counter() - started
        f_mrr, _ = evaluate(news, every, DEFAULT_RANKING)
        h_mrr, _ = evaluate(news, holding, DEFAULT_RANKING)
        size = news.stats()["size_bytes"] / 1e6
        print(f"{name:18} {q_mrr:>10.4f} {k_mrr:>9.4f} {f_mrr:>10.4f} {h_mrr:>8.4f}"
              f" {size:>9.1f} {built:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
