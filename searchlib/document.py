"""Articles: the record type searchlib indexes, and validation of incoming records.

``Article`` is a convenience dataclass; plain dicts work too. ``normalize_record`` turns
either into the canonical dict the index stores, or raises ``DocumentError`` naming the
record and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from searchlib.dates import parse_datetime
from searchlib.errors import DocumentError

__all__ = [
    "KNOWN_FIELDS",
    "MAX_TEXT_LENGTH",
    "Article",
    "CheckedRecord",
    "normalize_record",
    "public_fields",
    "unicode_problem",
]

KNOWN_FIELDS = ("id", "title", "body", "url", "published", "category", "source", "related")
MAX_ID_LENGTH = 512
# Longest title or body accepted, in characters: far above any real article, low enough
# that one record cannot stall indexing or snippets for minutes.
MAX_TEXT_LENGTH = 5_000_000


@dataclass
class Article:
    """A news article. Only ``id`` and a ``title`` or ``body`` are required."""

    id: str
    title: str = ""
    body: str = ""
    url: str | None = None
    published: str | date | datetime | None = None
    category: str | None = None
    source: str | None = None
    related: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {**extra, **data}


def _describe(record: Any, doc_id: Any) -> str:
    return f"record {doc_id!r}" if doc_id not in (None, "") else "record without an id"


def unicode_problem(text: str) -> str | None:
    """Why ``text`` is not valid Unicode text (an unpaired surrogate, as a JSON
    ``"\\ud800"`` escape decodes to: it has no UTF-8 form to store), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds an unpaired surrogate U+{ord(text[exc.start]):04X} at character {exc.start}"
    return None


def _check_json_value(value: Any, where: str, depth: int = 0) -> None:
    """Extra fields are stored as given, but must be plain JSON-like data."""
    if depth > 32:
        raise ValueError(f"{where} is nested more than 32 levels deep")
    if isinstance(value, str):
        problem = unicode_problem(value)
        if problem:
            raise ValueError(f"{where} {problem}")
        return
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is not a finite number: {value!r}")
        return
    if isinstance(value, (datetime, date)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or unicode_problem(key):
                raise ValueError(f"{where} has a key that is not a valid string: {key!r}")
            _check_json_value(item, f"{where}.{key}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_json_value(item, where, depth + 1)
        return
    raise ValueError(f"{where} has a value of type {type(value).__name__}")


class CheckedRecord(dict):  # type: ignore[type-arg]
    """A record ``normalize_record`` validated and made canonical: given to it again
    (``Index.add`` after ``search index`` or the HTTP API checked it) it is taken as it
    is, so every record is validated once, by one set of rules."""


def normalize_record(record: Article | Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``record`` and return the canonical dict stored in the index."""
    if type(record) is CheckedRecord:
        return record
    if isinstance(record, Article):
        record = record.to_dict()
    if not isinstance(record, Mapping):
        raise DocumentError(
            f"a record must be a dict or an Article, not {type(record).__name__}", record=record
        )
    doc_id = record.get("id")
    label = _describe(record, doc_id)
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise DocumentError(
            f"{label}: field 'id' is required and must be a non-empty string, got {doc_id!r}",
            record=record,
            field="id",
        )
    if len(doc_id) > MAX_ID_LENGTH or any(ord(c) < 32 for c in doc_id):
        raise DocumentError(
            f"{label}: field 'id' must be at most {MAX_ID_LENGTH} printable characters",
            record=record,
            field="id",
        )
    problem = unicode_problem(doc_id)
    if problem:
        raise DocumentError(f"{label}: field 'id' {problem}", record=record, field="id")
    out: dict[str, Any] = {"id": doc_id}
    for name in ("title", "body", "url", "category", "source"):
        value = record.get(name)
        if value is None:
            out[name] = "" if name in ("title", "body") else None
            continue
        if not isinstance(value, str):
            raise DocumentError(
                f"{label}: field {name!r} must be a string, got {type(value).__name__}",
                record=record,
                field=name,
            )
        if len(value) > MAX_TEXT_LENGTH:
            raise DocumentError(
                f"{label}: field {name!r} is too long ({len(value):,} characters; "
                f"the limit is {MAX_TEXT_LENGTH:,})",
                record=record,
                field=name,
            )
        problem = unicode_problem(value)
        if problem:
            raise DocumentError(f"{label}: field {name!r} {problem}", record=record, field=name)
        out[name] = value if name in ("title", "body") else (value.strip() or None)
    if not out["title"].strip() and not out["body"].strip():
        raise DocumentError(
            f"{label}: needs a non-empty 'title' or 'body'", record=record, field="body"
        )
    published = record.get("published")
    if published in (None, ""):
        out["published"] = None
    else:
        try:
            out["published"] = parse_datetime(published).isoformat()
        except (TypeError, ValueError, OverflowError) as exc:
            raise DocumentError(
                f"{label}: field 'published' is not a date, datetime or ISO 8601 string: "
                f"{published!r}",
                record=record,
                field="published",
            ) from exc
    related = record.get("related") or []
    if isinstance(related, str):
        related = [related]
    if not isinstance(related, Sequence) or not all(
        isinstance(r, str) and not unicode_problem(r) for r in related
    ):
        raise DocumentError(
            f"{label}: field 'related' must be a list of valid strings",
            record=record,
            field="related",
        )
    out["related"] = list(related)
    extra: dict[str, Any] = {}
    for key, value in record.items():
        if key in KNOWN_FIELDS:
            continue
        if not isinstance(key, str) or unicode_problem(key):
            raise DocumentError(f"{label}: field name {key!r} is not a valid string", record=record)
        try:
            _check_json_value(value, key)
        except ValueError as exc:
            raise DocumentError(f"{label}: field {key!r}: {exc}", record=record, field=key) from exc
        extra[key] = value
    out["extra"] = extra
    return CheckedRecord(out)


def public_fields(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored engine fields -> the article dict users gave (extras merged back)."""
    out = {**(stored.get("extra") or {})}
    for name in ("id", "title", "body", "url", "published", "category", "source"):
        out[name] = stored.get(name)
    out["title"] = out["title"] or ""
    out["body"] = out["body"] or ""
    out["related"] = list(stored.get("related") or [])
    return out
