"""What a search returns: ``Results`` (a page of ``Hit`` objects plus totals and facets)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from dataclasses import field as _field  # TermScore has a member named field
from typing import Any

from searchlib.query.collapse import Duplicate
from searchlib.query.snippets import Snippet

__all__ = ["Hit", "Results", "TermScore"]


@dataclass(frozen=True)
class TermScore:
    """One query term's part of a hit's score (``explain=True``), as BM25F over the
    fields it occurs in: ``field`` names them (``title+body``), ``tf`` and ``length``
    are the weighted sums, ``field_tf`` each field's own frequency."""

    field: str
    term: str
    tf: float
    doc_freq: int
    doc_count: int
    idf: float
    length: float
    avg_length: float
    boost: float
    score: float
    field_tf: dict[str, float] = _field(default_factory=dict)


@dataclass
class Hit:
    """One matching article: its id, rank (1-based), BM25 score, stored fields, snippet."""

    id: str
    rank: int
    score: float
    fields: dict[str, Any]
    snippet: Snippet | None = None
    explanation: list[TermScore] | None = None
    title_snippet: Snippet | None = None  # the whole title, the query's words marked
    # With a ranking's recency: the factor its relevance was multiplied by (1 to 1 + weight).
    recency: float | None = None
    # A collapsed search's: the copies of this article it stands for (None: not collapsed).
    duplicates: list[Duplicate] | None = None

    @property
    def title(self) -> str:
        return self.fields.get("title") or ""

    @property
    def url(self) -> str | None:
        return self.fields.get("url")

    @property
    def published(self) -> str | None:
        return self.fields.get("published")

    @property
    def category(self) -> str | None:
        return self.fields.get("category")

    @property
    def source(self) -> str | None:
        return self.fields.get("source")

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: fields, score, rank and the snippet as text, html and spans."""
        fields = {k: v for k, v in self.fields.items() if k != "body"}
        data: dict[str, Any] = {"id": self.id, "rank": self.rank, "score": self.score, **fields}
        data["id"] = self.id
        if self.snippet is not None:
            data["snippet"] = {**_snippet_dict(self.snippet), "field": self.snippet.field}
        if self.title_snippet is not None:
            data["title_snippet"] = _snippet_dict(self.title_snippet)
        if self.explanation is not None:
            data["explanation"] = [vars(term) for term in self.explanation]
        if self.recency is not None:
            data["recency"] = self.recency
        if self.duplicates is not None:
            data["duplicates"] = [copy.to_dict() for copy in self.duplicates]
        return data


def _snippet_dict(snippet: Snippet) -> dict[str, Any]:
    return {
        "text": snippet.fragment,
        "html": snippet.html(),
        "spans": [list(span) for span in snippet.spans],
    }


@dataclass
class Results:
    """A page of hits; ``total`` counts the matches (exact, or a lower bound past
    ``track_total_hits``: ``total_relation``); ``facets`` (by category/source,
    for the fields a search asked for) and ``suggestion`` (when asked for)."""

    query: str
    hits: list[Hit]
    total: int
    took_ms: float
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None
    offset: int = 0
    limit: int = 10
    # A cluster's search: shards total, successful and failed (with reasons). A result
    # with failed shards is partial, never silently incomplete.
    shards: dict[str, Any] | None = None
    # Documents whose score was computed: with exact pruning far fewer than ``total``.
    scored: int = 0
    # "eq": ``total`` is exact; "gte": at least ``total`` match (past the search's
    # ``track_total_hits``, counting every match was not needed for the page).
    total_relation: str = "eq"
    # Query words synonyms expanded -> the entries they were also searched as.
    synonyms: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __getitem__(self, index: int) -> Hit:
        return self.hits[index]

    def ids(self) -> list[str]:
        return [hit.id for hit in self.hits]

    def to_dict(self) -> dict[str, Any]:
        shards = {} if self.shards is None else {"shards": self.shards}
        return {
            **shards,
            "query": self.query,
            "total": self.total,
            "total_relation": self.total_relation,
            "offset": self.offset,
            "limit": self.limit,
            "took_ms": round(self.took_ms, 3),
            "scored": self.scored,
            "suggestion": self.suggestion,
            "facets": self.facets,
            "synonyms": self.synonyms,
            "hits": [hit.to_dict() for hit in self.hits],
        }
