"""Search as you type: the last word of a query completed, and whole titles offered.

``complete`` reads the text as the words typed so far and the start of one more (the
last word, unless the text ends with a space). Word completions are the unstemmed forms
the index holds (exact forms and dropped stopwords of titles and bodies) that start with
it, normalized by the chain's own normalization, ranked by how many articles hold them;
words that occur in titles with the words already typed come first. The candidates come
from each segment's frequent terms by prefix (``Snapshot.frequent_with_prefix``): no
scan of the vocabulary. Title completions are the newest articles whose title holds the
words typed and the best completion of the last one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np

from searchlib.analysis import Analyzer
from searchlib.analysis.tokenizer import replace_unpaired_surrogates
from searchlib.engine import EXACT, STOP, Snapshot
from searchlib.engine.arrays import member
from searchlib.errors import QueryError

__all__ = [
    "Completion",
    "Completions",
    "TitleCompletion",
    "check_completion",
    "complete",
    "complete_titles",
    "merge_completions",
    "newest_titles",
    "prepare_completion",
    "split_last_word",
    "title_word",
]

MAX_TEXT = 200
MAX_LIMIT = 50
_LAST_WORD = re.compile(r"^(?P<head>.*?)(?P<last>\S*)$", re.DOTALL)
# Where completions of a word come from: each text field's exact forms and stopwords.
_FIELDS = tuple(f for name in ("title", "body") for f in (EXACT[name], STOP[name]))


@dataclass(frozen=True)
class Completion:
    """``text``: the query with its last word completed as ``word``, which ``count``
    articles hold; ``together``: how many of them hold the earlier words in the title;
    ``in_titles``: how many titles hold the word."""

    text: str
    word: str
    count: int
    together: int = 0
    in_titles: int = 0


@dataclass(frozen=True)
class TitleCompletion:
    id: str
    title: str
    published: str | None = None


@dataclass
class Completions:
    """What ``Index.complete`` offers for the text typed so far."""

    query: str
    words: list[Completion] = field(default_factory=list)
    titles: list[TitleCompletion] = field(default_factory=list)
    took_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "words": [
                {
                    "text": c.text,
                    "word": c.word,
                    "count": c.count,
                    "together": c.together,
                    "in_titles": c.in_titles,
                }
                for c in self.words
            ],
            "titles": [
                {"id": t.id, "title": t.title, "published": t.published} for t in self.titles
            ],
            "took_ms": round(self.took_ms, 3),
        }


def complete(
    snapshot: Snapshot, analyzer: Analyzer, text: str, limit: int = 8, titles: int = 3
) -> Completions:
    started = perf_counter()
    check_completion(text, limit, titles)
    head, last = split_last_word(replace_unpaired_surrogates(text))
    prefix = analyzer.normalize(last) if last else ""
    context = _title_documents(snapshot, analyzer, head)
    words = _words(snapshot, head, prefix, context, limit) if prefix and limit else []
    found = _titles(snapshot, context, title_word(words), titles)
    return Completions(text, words, found, (perf_counter() - started) * 1000)


def title_word(words: list[Completion]) -> str | None:
    """The completion titles are offered for: the first that some title holds."""
    return next((c.word for c in words if c.in_titles), None)


def split_last_word(text: str) -> tuple[str, str]:
    """The words typed so far, and the start of the last one ("" after a space)."""
    typed = text[-MAX_TEXT:]
    match = _LAST_WORD.match(typed)
    return (match["head"], match["last"]) if match else (typed, "")


def complete_titles(
    snapshot: Snapshot, analyzer: Analyzer, text: str, word: str | None, limit: int
) -> list[TitleCompletion]:
    """The titles ``complete`` offers once the last word's completion is ``word`` (a
    cluster chooses it from every shard's counts first)."""
    check_completion(text, 0, limit)
    head, _last = split_last_word(text)
    return _titles(snapshot, _title_documents(snapshot, analyzer, head), word, limit)


def prepare_completion(snapshot: Snapshot) -> None:
    """Compute every segment's prefix tables now (what the first completion of a process
    would otherwise pay): a server does it in the background when it starts."""
    snapshot.prepare_prefixes(_FIELDS)


def check_completion(text: Any, limit: Any, titles: Any) -> None:
    """``QueryError`` unless ``complete`` can take these arguments."""
    if not isinstance(text, str):
        raise QueryError(f"complete() takes the text typed so far (a str), not {text!r}")
    for name, value in (("limit", limit), ("titles", titles)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT:
            raise QueryError(f"{name} must be an integer from 0 to {MAX_LIMIT}, not {value!r}")


def _title_documents(snapshot: Snapshot, analyzer: Analyzer, head: str) -> np.ndarray | None:
    """The live documents whose title holds every content word of ``head`` (None when
    it has none)."""
    terms = [t.term for t in analyzer.analyze(head) if t.primary and not t.stopword]
    if not terms:
        return None
    unique = list(dict.fromkeys(terms))
    docs, _tf = snapshot.postings("title", unique[0])
    for term in unique[1:]:
        if not len(docs):
            break
        docs = docs[member(docs, snapshot.postings("title", term)[0])]
    return docs[snapshot.live[docs]] if len(docs) else docs


def _words(
    snapshot: Snapshot, head: str, prefix: str, context: np.ndarray | None, limit: int
) -> list[Completion]:
    counts: dict[str, int] = {}
    for name in _FIELDS:
        for word, count in snapshot.frequent_with_prefix(name, prefix, limit + 4):
            counts[word] = max(counts.get(word, 0), count)
    words = sorted(counts, key=lambda w: (-counts[w], w))[: limit * 2]
    in_titles = dict(zip(words, snapshot.document_counts(EXACT["title"], words), strict=True))
    together: dict[str, int] = {}
    if context is not None and len(context):
        for word in words:
            if in_titles[word]:
                ids, _tf = snapshot.postings(EXACT["title"], word)
                together[word] = int(np.count_nonzero(member(context, ids)))
    ranked = sorted(words, key=lambda w: (-together.get(w, 0), -counts[w], w))[:limit]
    return [Completion(head + w, w, counts[w], together.get(w, 0), in_titles[w]) for w in ranked]


def _titles(
    snapshot: Snapshot, context: np.ndarray | None, word: str | None, limit: int
) -> list[TitleCompletion]:
    """The newest live articles whose title holds the typed words and ``word``."""
    if not limit or (context is None and word is None):
        return []
    docs = context
    if word is not None:
        ids, _tf = snapshot.postings(EXACT["title"], word)
        ids = ids[snapshot.live[ids]] if len(ids) else ids
        docs = ids if docs is None else docs[member(docs, ids)]
    if docs is None or not len(docs):
        return []
    newest = docs[np.argsort(-snapshot.published[docs], kind="stable")[:limit]]
    out = []
    for docnum in newest.tolist():
        stored = snapshot.stored(docnum)
        published = stored.get("published")
        out.append(
            TitleCompletion(
                str(stored["id"]), str(stored.get("title") or ""), published and str(published)
            )
        )
    return out


def merge_completions(parts: list[Completions], text: str, limit: int) -> Completions:
    """Shards' word completions as one index would rank them: each word's counts summed
    (the titles come after, for the word chosen: ``complete_titles``)."""
    counts: dict[str, list[int]] = {}
    heads: dict[str, str] = {}
    for part in parts:
        for found in part.words:
            total = counts.setdefault(found.word, [0, 0, 0])
            total[0] += found.count
            total[1] += found.together
            total[2] += found.in_titles
            heads[found.word] = found.text
    ranked = sorted(counts, key=lambda w: (-counts[w][1], -counts[w][0], w))[:limit]
    return Completions(text, [Completion(heads[w], w, *counts[w]) for w in ranked])


def newest_titles(parts: list[list[TitleCompletion]], limit: int) -> list[TitleCompletion]:
    """The newest of several shards' titles (stored dates are ISO 8601 in UTC: their
    text sorts as the dates do; undated last)."""
    offered = [t for part in parts for t in part]
    return sorted(offered, key=lambda t: t.published or "", reverse=True)[:limit]
