"""The stacks the benchmarks compare, each run in its own process:

* ``searchlib`` - this library, as users call it (``Index.add``, ``Index.search``);
* ``whoosh`` - naive Whoosh 2.7: one TEXT field per title/body with a regex tokenizer,
  lowercase, Sastrawi stopwords and a ``StemFilter`` running PySastrawi (cached per
  word), the default writer, Whoosh's BM25F and highlighter;
* ``sqlite`` - SQLite FTS5 over pre-analyzed text (the same Python analysis: regex
  tokens, stopwords, cached PySastrawi stems), ``bm25()`` and ``snippet()``;
* ``tantivy`` - tantivy over the same pre-analyzed text (whitespace tokenizer), its BM25
  and ``SnippetGenerator``.

    python benchmarks/stacks.py build STACK CORPUS N DIR     -> JSON: build figures
    python benchmarks/stacks.py query STACK CORPUS N DIR     -> JSON: query latencies
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import load_articles
from make_corpus import generate

WORD = re.compile(r"\w+")
QUERIES = 200
QUERY_SOURCE = 100_000


class Counted:
    """An iterable that counts what was taken from it."""

    def __init__(self, items: Iterable[dict]) -> None:
        self._items = iter(items)
        self.count = 0

    def __iter__(self) -> Iterator[dict]:
        for item in self._items:
            self.count += 1
            yield item


def corpus(path: str, n: int) -> list[dict]:
    articles = load_articles(path)
    if n and n != len(articles):
        articles = generate(articles, n) if n > len(articles) else articles[:n]
    return articles


def stream(path: str, n: int) -> Iterator[dict]:
    """The corpus one article at a time, read lazily from a JSON Lines file that holds
    at least ``n`` articles (so building measures the indexer, not the corpus held in
    memory); anything else is loaded (and resampled) first."""
    file = Path(path)
    if not (file.is_file() and file.suffix == ".jsonl" and n and _holds(file, n)):
        yield from corpus(path, n)
        return
    with open(file, encoding="utf-8") as handle:
        lines = (line for line in handle if line.strip())
        for number, line in enumerate(islice(lines, n)):
            record = json.loads(line)
            record.setdefault("id", str(number))
            yield record


def _holds(file: Path, n: int) -> bool:
    with open(file, "rb") as handle:
        return sum(1 for _line in islice((x for x in handle if x.strip()), n)) == n


def title_queries(articles: list[dict], count: int = QUERIES, seed: int = 1) -> list[str]:
    """Fixed queries of 2-4 content words taken from titles (stopwords left out)."""
    from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory

    stops = set(StopWordRemoverFactory().get_stop_words())
    rng = random.Random(seed)
    queries: list[str] = []
    for _ in range(count * 20):
        words = [
            w
            for w in WORD.findall((rng.choice(articles).get("title") or "").lower())
            if w not in stops and len(w) > 2 and not w.isdigit()
        ]
        if len(words) >= 2:
            queries.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 4)))))
        if len(queries) == count:
            break
    return queries


class PlainAnalysis:
    """What every peer is fed: regex words, lowercase, stopwords, cached PySastrawi."""

    def __init__(self) -> None:
        from Sastrawi.Stemmer.StemmerFactory import StemmerFactory
        from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory

        self.stemmer = StemmerFactory().create_stemmer().delegatedStemmer
        self.stops = set(StopWordRemoverFactory().get_stop_words())
        self.cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        stem = self.cache.get(word)
        if stem is None:
            stem = self.cache[word] = self.stemmer.stem_word(word) or word
        return stem

    def __call__(self, text: str) -> str:
        return " ".join(self.stem(w) for w in WORD.findall(text.lower()) if w not in self.stops)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# -- searchlib ---------------------------------------------------------------------


def build_searchlib(articles: Iterable[dict], folder: Path) -> None:
    import searchlib

    # A commit every 10,000 articles, as `search index` does; closing waits for the
    # background merges (as tantivy's wait_merging_threads below).
    source = iter(articles)
    with searchlib.Index.create(folder) as ix:
        while batch := list(islice(source, 10_000)):
            ix.add(batch)


def query_searchlib(folder: Path, queries: list[str], snippets: bool) -> list[float]:
    import searchlib

    ix = searchlib.Index.open(folder)
    times = []
    for query in queries:
        started = time.perf_counter()
        results = ix.search(query, limit=10, snippets=snippets)
        if snippets:
            [hit.snippet.html() for hit in results]
        times.append(time.perf_counter() - started)
    return times


def searchlib_scoring(folder: Path, queries: list[str]) -> dict[str, float]:
    """Median documents matched (counted exactly) and scored per query: what exact
    pruning saves."""
    import searchlib

    ix = searchlib.Index.open(folder)
    matched, scored = [], []
    for query in queries:
        results = ix.search(query, limit=10, snippets=False, track_total_hits=True)
        matched.append(results.total)
        scored.append(results.scored)
    return {
        "matched_p50": statistics.median(matched),
        "scored_p50": statistics.median(scored),
    }


# -- naive Whoosh --------------------------------------------------------------------


def build_whoosh(articles: Iterable[dict], folder: Path) -> None:
    from whoosh import fields, index
    from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter

    plain = PlainAnalysis()
    analyzer = (
        RegexTokenizer(r"\w+")
        | LowercaseFilter()
        | StopFilter(stoplist=plain.stops)
        | StemFilter(stemfn=plain.stem, cachesize=-1)
    )
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=analyzer, stored=True),
        body=fields.TEXT(analyzer=analyzer, stored=True),
    )
    folder.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(folder), schema)
    writer = ix.writer()
    for article in articles:
        writer.add_document(
            id=article["id"], title=article.get("title") or "", body=article.get("body") or ""
        )
    writer.commit()


def query_whoosh(folder: Path, queries: list[str], snippets: bool) -> list[float]:
    from whoosh import index
    from whoosh.qparser import MultifieldParser, OrGroup

    ix = index.open_dir(str(folder))
    parser = MultifieldParser(["title", "body"], ix.schema, group=OrGroup)
    times = []
    with ix.searcher() as searcher:
        for query in queries:
            started = time.perf_counter()
            hits = searcher.search(parser.parse(query), limit=10)
            if snippets:
                [hit.highlights("body") for hit in hits]
            else:
                [hit["id"] for hit in hits]
            times.append(time.perf_counter() - started)
    return times


# -- SQLite FTS5 -----------------------------------------------------------------------


def build_sqlite(articles: Iterable[dict], folder: Path) -> None:
    plain = PlainAnalysis()
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "fts.db")
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, "
        "raw_title UNINDEXED, raw_body UNINDEXED)"
    )
    db.executemany(
        "INSERT INTO docs VALUES (?, ?, ?, ?, ?)",
        (
            (
                a["id"],
                plain(a.get("title") or ""),
                plain(a.get("body") or ""),
                a.get("title") or "",
                a.get("body") or "",
            )
            for a in articles
        ),
    )
    db.commit()
    db.close()


def query_sqlite(folder: Path, queries: list[str], snippets: bool) -> list[float]:
    plain = PlainAnalysis()
    db = sqlite3.connect(folder / "fts.db")
    select = (
        "SELECT id, snippet(docs, 2, '<b>', '</b>', '...', 24) FROM docs WHERE docs "
        "MATCH ? ORDER BY bm25(docs) LIMIT 10"
        if snippets
        else "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10"
    )
    times = []
    for query in queries:
        started = time.perf_counter()
        terms = plain(query).split()
        if terms:
            db.execute(select, (" OR ".join(f'"{t}"' for t in terms),)).fetchall()
        times.append(time.perf_counter() - started)
    return times


# -- tantivy -----------------------------------------------------------------------------


def build_tantivy(articles: Iterable[dict], folder: Path) -> None:
    import tantivy

    plain = PlainAnalysis()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="whitespace")
    builder.add_text_field("body", stored=True, tokenizer_name="whitespace")
    folder.mkdir(parents=True, exist_ok=True)
    ix = tantivy.Index(builder.build(), path=str(folder))
    writer = ix.writer(heap_size=300_000_000, num_threads=1)
    for article in articles:
        writer.add_document(
            tantivy.Document(
                id=article["id"],
                title=plain(article.get("title") or ""),
                body=plain(article.get("body") or ""),
            )
        )
    writer.commit()
    writer.wait_merging_threads()


def query_tantivy(folder: Path, queries: list[str], snippets: bool) -> list[float]:
    import tantivy

    plain = PlainAnalysis()
    ix = tantivy.Index.open(str(folder))
    ix.reload()
    searcher = ix.searcher()
    schema = ix.schema
    times = []
    for query in queries:
        started = time.perf_counter()
        text = plain(query)
        if text:
            parsed = ix.parse_query(text, ["title", "body"])
            result = searcher.search(parsed, 10)
            if snippets:
                generator = tantivy.SnippetGenerator.create(searcher, parsed, schema, "body")
                [generator.snippet_from_doc(searcher.doc(a)).to_html() for _, a in result.hits]
        times.append(time.perf_counter() - started)
    return times


BUILD = {
    "searchlib": build_searchlib,
    "whoosh": build_whoosh,
    "sqlite": build_sqlite,
    "tantivy": build_tantivy,
}
QUERY = {
    "searchlib": query_searchlib,
    "whoosh": query_whoosh,
    "sqlite": query_sqlite,
    "tantivy": query_tantivy,
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    action, stack, path, n, folder = sys.argv[1:6]
    folder_path = Path(folder)
    if action == "build":
        counted = Counted(stream(path, int(n)))
        started = time.perf_counter()
        BUILD[stack](counted, folder_path)
        seconds = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "stack": stack,
                    "docs": counted.count,
                    "build_s": seconds,
                    "docs_per_s": counted.count / seconds,
                    "peak_rss_mb": peak_rss_mb(),
                    "size_mb": dir_size_mb(folder_path),
                }
            )
        )
    else:
        # Queries come from the first 100,000 articles (all of a smaller corpus).
        articles = list(islice(stream(path, int(n)), QUERY_SOURCE))
        queries = title_queries(articles)
        QUERY[stack](folder_path, queries[:20], True)  # warm the caches
        plain = QUERY[stack](folder_path, queries, False)
        with_snippets = QUERY[stack](folder_path, queries, True)
        figures = {
            "stack": stack,
            "queries": len(queries),
            "p50_ms": statistics.median(plain) * 1000,
            "p95_ms": percentile(plain, 0.95) * 1000,
            "snip_p50_ms": statistics.median(with_snippets) * 1000,
            "snip_p95_ms": percentile(with_snippets, 0.95) * 1000,
            "pid": os.getpid(),
        }
        if stack == "searchlib":
            figures.update(searchlib_scoring(folder_path, queries))
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
