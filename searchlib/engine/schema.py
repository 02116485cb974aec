"""What a searchlib index holds per article, and the on-disk format version.

Each text field is indexed twice: stemmed (``title``, ``body``, with positions) and as
the normalized surface form (``title_exact``, ``body_exact``), so an exact match can
outrank a stem-only one. The stopwords the analyzer drops keep their positions in a
third field (``title_stop``, ``body_stop``), never scored, never counted in lengths:
a phrase with a stopword ("menteri dalam negeri") matches only that word there. Exact
token counts (``title_len``, ``body_len``), the publication time (``published_ts``)
and the labels (``category``, ``source``) are per-document columns: filters, facets,
lengths and date sorting read them as arrays, as is each article's near-duplicate
signature (``signature``: ``engine.signature``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from searchlib.analysis import AnalyzedText

__all__ = [
    "DATE_OFFSET",
    "EXACT",
    "FORMAT_VERSION",
    "LABEL_COLUMNS",
    "LENGTH_FIELD",
    "MISSING_DATE",
    "NUMBER_COLUMNS",
    "POSTING_FIELDS",
    "SCORED_FIELDS",
    "SCORED_LENGTH",
    "SCORED_TEXT",
    "SIGNATURE_COLUMN",
    "STOP",
    "TEXT_FIELDS",
    "EngineDocument",
]

# Bump when the files or the meaning of stored data change; old indexes must rebuild.
# 5: searchlib's own files (commit points, doc store, deletions), all checksummed.
# 6: the positions of dropped stopwords (title_stop, body_stop), for phrases.
# 7: gaps, frequencies and positions as patched fixed-width streams (engine.packed).
# 8: a near-duplicate signature per document (engine.signature), for collapsing copies.
# 9: a packed stream's exceptions packed as a stream of their own (engine.packed).
# 10: block maxima of the scored fields' postings (engine.blockmax), for pruning.
FORMAT_VERSION = 10

# Searchable text fields and their exact-form twins.
TEXT_FIELDS = ("title", "body")
EXACT = {name: f"{name}_exact" for name in TEXT_FIELDS}
LENGTH_FIELD = {name: f"{name}_len" for name in TEXT_FIELDS}
STOP = {name: f"{name}_stop" for name in TEXT_FIELDS}
# The fields scored, and every field whose postings the segments' postings files hold.
SCORED_FIELDS = (*TEXT_FIELDS, *EXACT.values())
# The text field whose length each scored field is normalized by (a field and its
# exact twin share one), and that length's column.
SCORED_TEXT = {**{name: name for name in TEXT_FIELDS}, **{EXACT[n]: n for n in TEXT_FIELDS}}
SCORED_LENGTH = {name: LENGTH_FIELD[text] for name, text in SCORED_TEXT.items()}
POSTING_FIELDS = (*SCORED_FIELDS, *STOP.values())
# Per-document columns every snapshot loads as arrays (numbers, then strings).
NUMBER_COLUMNS = (*LENGTH_FIELD.values(), "published_ts")
LABEL_COLUMNS = ("category", "source")
# The signatures, SIGNATURE_BYTES per document one after another (one uint8 array).
SIGNATURE_COLUMN = "signature.minhash"

# published_ts holds seconds since the epoch plus DATE_OFFSET, so that dates before 1970
# fit an unsigned column whose default, 0, means "no publication date" (MISSING_DATE).
DATE_OFFSET = 2**62
MISSING_DATE = -DATE_OFFSET


@dataclass
class EngineDocument:
    """What the engine writes for one article: ``stored`` is the article as the index
    gives it back (``id``, ``title``, ``body``, ``url``, ``published``, ``category``,
    ``source``, ``related``, ``extra``: JSON values), ``text`` each text field's
    analysis (stems and exact forms, with positions), ``published_ts`` the publication
    time in seconds since the epoch (None when undated), ``signature`` the body's
    near-duplicate signature (``engine.signature``; empty: unsigned)."""

    id: str
    stored: dict[str, Any]
    text: dict[str, AnalyzedText]
    published_ts: int | None = None
    signature: bytes = b""
