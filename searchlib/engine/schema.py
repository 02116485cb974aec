"""The Whoosh schema of a searchlib index, and the on-disk format marker.

Each text field is indexed twice: stemmed (``title``, ``body``) and as the normalized
surface form (``title_exact``, ``body_exact``), so an exact match can outrank a
stem-only one. Exact token counts live in numeric columns (``title_len``,
``body_len``), because Whoosh keeps field lengths in one lossy byte and BM25 needs the
true length. ``category``, ``source`` and ``published_ts`` are columns too: filters,
facets and date sorting read them as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whoosh import columns, fields

from searchlib.analysis import AnalyzedText, Analyzer

__all__ = [
    "DATE_OFFSET",
    "FORMAT_VERSION",
    "LABEL_COLUMNS",
    "LENGTH_FIELD",
    "MISSING_DATE",
    "NUMBER_COLUMNS",
    "TEXT_FIELDS",
    "EngineDocument",
    "build_schema",
    "whoosh_fields",
]

# Bump when the schema or the meaning of stored data changes; old indexes must rebuild.
FORMAT_VERSION = 4

# Searchable text fields and their exact-form twins.
TEXT_FIELDS = ("title", "body")
EXACT = {name: f"{name}_exact" for name in TEXT_FIELDS}
LENGTH_FIELD = {name: f"{name}_len" for name in TEXT_FIELDS}
# Per-document columns every snapshot loads as arrays (numbers, then strings).
NUMBER_COLUMNS = (*LENGTH_FIELD.values(), "published_ts")
LABEL_COLUMNS = ("category", "source")

# published_ts holds seconds since the epoch plus DATE_OFFSET, so that dates before 1970
# fit an unsigned column whose default, 0, means "no publication date" (MISSING_DATE).
DATE_OFFSET = 2**62
MISSING_DATE = -DATE_OFFSET


@dataclass
class EngineDocument:
    """What the engine writes for one article: ``stored`` is the article as the index
    gives it back (``id``, ``title``, ``body``, ``url``, ``published``, ``category``,
    ``source``, ``related``, ``extra``), ``text`` each text field's analysis (stems and
    exact forms, with positions), ``published_ts`` the publication time in seconds
    since the epoch (None when undated)."""

    id: str
    stored: dict[str, Any]
    text: dict[str, AnalyzedText]
    published_ts: int | None = None


def whoosh_fields(doc: EngineDocument) -> dict[str, Any]:
    """The document as Whoosh's ``add_document`` takes it for this schema (Whoosh's
    ``_stored_<name>`` keys give a field's stored value apart from its indexed one)."""
    out = {k: v for k, v in doc.stored.items() if v is not None and k not in TEXT_FIELDS}
    if doc.published_ts is not None:
        out["published_ts"] = doc.published_ts + DATE_OFFSET
    for name in TEXT_FIELDS:
        analyzed = doc.text[name]
        out[name] = analyzed
        out[f"_stored_{name}"] = doc.stored.get(name) or ""
        out[EXACT[name]] = analyzed
        out[LENGTH_FIELD[name]] = analyzed.length
    return out


def build_schema(analyzer: Analyzer) -> fields.Schema:
    """The schema, with ``analyzer`` (stems) and its exact-form twin embedded."""
    exact = analyzer.with_form("norm")
    schema = fields.Schema(
        # Ids and labels are found through the postings files' columns, not Whoosh.
        id=fields.STORED(),
        url=fields.STORED(),
        published=fields.STORED(),
        published_ts=fields.COLUMN(columns.NumericColumn("Q", default=0)),
        category=fields.STORED(),
        source=fields.STORED(),
        related=fields.STORED(),
        extra=fields.STORED(),
    )
    for name in TEXT_FIELDS:
        schema.add(name, fields.TEXT(analyzer=analyzer, stored=True, phrase=True))
        schema.add(EXACT[name], fields.TEXT(analyzer=exact, stored=False, phrase=False))
        # Columns only: exact token counts are read as arrays, never searched.
        schema.add(LENGTH_FIELD[name], fields.COLUMN(columns.NumericColumn("I", default=0)))
    return schema
