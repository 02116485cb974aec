"""Phrases that keep their stopwords: what each way of indexing costs and gives.

    python benchmarks/bench_phrases.py --corpus ../shared/corpus/indosum-news.jsonl

Three ways, on the same articles, in one run:

- **wildcard** (searchlib before format 6): dropped stopwords keep their position, so a
  phrase's stopword matches any word there ("menteri dalam negeri" also finds "menteri
  luar negeri"). Measured on the same index with the phrases' stopword checks removed
  from the plan; its size is the index's without the stopword-position fields.
- **stop positions** (the default): dropped stopwords' positions in their own fields
  (``title_stop``, ``body_stop``), never scored; a phrase checks its stopwords there.
- **every word indexed** (``Analyzer(stopword_mode="query")``): stopwords are ordinary
  terms (in lengths and scores too), dropped from queries beside other words.

Queries: phrases of three words from article bodies with a stopword inside
("pembangunan di kawasan"). Reported: index size and build time, the phrases' median
matches and latency, and precision: the share of matched articles whose title or body
holds the phrase's words in that order (normalized), for each way.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import SHARED_CORPUS, load_articles

from searchlib import Analyzer, Index
from searchlib.analysis import default_stopwords
from searchlib.analysis.steps import normalize_text
from searchlib.engine.arrayfile import map_file, read_arrays
from searchlib.query.execute import execute
from searchlib.query.parse import parse_query
from searchlib.query.plan import AnyOfPlan, BoolPlan, PhrasePlan, compile_query
from searchlib.query.ranking import DEFAULT_RANKING

WORD = re.compile(r"\w+(?:-\w+)*")


def phrase_queries(articles: list[dict], count: int, seed: int = 5) -> list[list[str]]:
    """Three consecutive body words, the middle one a stopword, the others not."""
    stops = default_stopwords()
    rng = random.Random(seed)
    found: list[list[str]] = []
    for article in rng.sample(articles, len(articles)):
        words = WORD.findall(normalize_text(article.get("body") or "")[:3000])
        windows = [
            words[i : i + 3]
            for i in range(len(words) - 2)
            if words[i + 1] in stops and words[i] not in stops and words[i + 2] not in stops
        ]
        if windows:
            found.append(rng.choice(windows))
        if len(found) >= count:
            break
    return found


def holds(article: dict, words: list[str]) -> bool:
    for name in ("title", "body"):
        text = WORD.findall(normalize_text(article.get(name) or ""))
        for i in range(len(text) - len(words) + 1):
            if text[i : i + len(words)] == words:
                return True
    return False


def without_stops(node):
    """The plan as the wildcard way runs it: phrases without their stopword checks."""
    if isinstance(node, PhrasePlan):
        node.stops = []
    elif isinstance(node, BoolPlan):
        for child in (*node.must, *node.should, *node.must_not):
            without_stops(child)
    elif isinstance(node, AnyOfPlan):
        for child in node.alternatives:
            without_stops(child)
    return node


def stop_field_bytes(folder: Path) -> int:
    total = 0
    for path in folder.glob("*.slp"):
        mapped = map_file(path)
        total += sum(a.nbytes for n, a in read_arrays(path, mapped).items() if "_stop" in n)
    return total


def directory_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def run(ix: Index, by_id: dict, queries: list[list[str]], wildcard: bool) -> dict:
    snapshot, ranking = ix._engine.snapshot(), DEFAULT_RANKING
    matches, times, precise = [], [], []
    for words in queries:
        started = time.perf_counter()
        plan = compile_query(parse_query(f'"{" ".join(words)}"'), snapshot, ix.analyzer, ranking)
        if plan.root is None:
            continue
        root = without_stops(plan.root) if wildcard else plan.root
        execution = execute(root, snapshot, ranking, 10)
        found = execution.matches
        times.append((time.perf_counter() - started) * 1000)
        matches.append(len(found))
        ids = [snapshot.doc_id(int(d)) for d in found[:200]]
        if ids:
            precise.append(sum(holds(by_id[i], words) for i in ids) / len(ids))
    return {
        "matches": statistics.median(matches),
        "p50": statistics.median(times),
        "precision": statistics.mean(precise) if precise else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SHARED_CORPUS))
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    articles = load_articles(args.corpus)
    by_id = {a["id"]: a for a in articles}
    queries = phrase_queries(articles, args.queries)
    print(f"{len(articles)} articles, {len(queries)} phrase queries with a stopword inside")
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        for label, analyzer in (
            ("stop positions", Analyzer()),
            ("every word indexed", Analyzer(stopword_mode="query")),
        ):
            folder = Path(temp) / label.replace(" ", "-")
            started = time.perf_counter()
            with Index.create(folder, analyzer=analyzer, workers=1) as ix:
                ix.add(articles)
                ix.optimize()
                build = time.perf_counter() - started
                size = directory_bytes(folder)
                if label == "stop positions":
                    wildcard = run(ix, by_id, queries, wildcard=True)
                    rows.append(
                        ("wildcard (before)", size - stop_field_bytes(folder), None, wildcard)
                    )
                rows.append((label, size, build, run(ix, by_id, queries, wildcard=False)))
    print(f"{'way':22}{'index MB':>10}{'build s':>9}{'matches':>9}{'p50 ms':>8}{'precision':>11}")
    for label, size, build, found in rows:
        built = f"{build:.1f}" if build is not None else "-"
        print(
            f"{label:22}{size / 1e6:>10.2f}{built:>9}{found['matches']:>9.0f}"
            f"{found['p50']:>8.2f}{found['precision']:>11.3f}"
        )


if __name__ == "__main__":
    main()
