"""Collapsing syndicated copies: one hit per group of near-duplicates, the best one.

``search(..., collapse=True)`` ranks a window of candidates (``collapse_window``:
several pages' worth) and groups them (``group_copies``): two whose signatures
(``engine.signature``) agree on at least the bytes ``agreeing_bytes`` asks for are
copies, and copies of copies are one group, led by its best-ranked article. The
leaders are the page; each carries the copies it
stood for in the window (``Hit.duplicates``). As Elasticsearch's ``collapse``, the
total still counts every matching article. If the window holds too few groups for the
page, the search ranks a larger one, up to ``MAX_COLLAPSE_WINDOW`` candidates (a page
past that many is shorter); pages go to hit ``MAX_COLLAPSE_DEPTH``. ``find_duplicates``
is ``Index.duplicates``: the copies of one article in the whole index, one pass over
the signature columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from searchlib.dates import from_timestamp
from searchlib.engine import Snapshot
from searchlib.engine.schema import MISSING_DATE
from searchlib.engine.signature import (
    DEFAULT_SIMILARITY,
    agreeing_bytes,
    similarity,
)
from searchlib.errors import QueryError

__all__ = [
    "COLLAPSE_WINDOW",
    "MAX_COLLAPSE_DEPTH",
    "MAX_COLLAPSE_WINDOW",
    "WINDOW_PER_HIT",
    "Duplicate",
    "Group",
    "collapse_bytes",
    "collapse_window",
    "copies_like",
    "duplicates_arguments",
    "duplicates_of",
    "find_duplicates",
    "group_copies",
    "similarity_bytes",
    "source_and_date",
]

# Candidates ranked for a collapsed page at least (and 3x the hits the page needs),
# and at most: a collapsed search compares every pair of them (``group_copies``).
COLLAPSE_WINDOW = 50
WINDOW_PER_HIT = 3
MAX_COLLAPSE_WINDOW = 4_000
# The deepest collapsed page: offset + limit at most this.
MAX_COLLAPSE_DEPTH = 1_000
# Candidates compared at once with every candidate ranked before them.
_BLOCK = 64


@dataclass(frozen=True)
class Duplicate:
    """A copy of a hit's article: its id, source, publication date (ISO 8601) and
    estimated similarity (Jaccard of word 3-shingles, 0 to 1)."""

    id: str
    source: str | None
    published: str | None
    similarity: float

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "source": self.source,
            "published": self.published,
            "similarity": round(self.similarity, 3),
        }


@dataclass
class Group:
    """A leader (a candidate's row) and its copies' rows with the bytes they share."""

    leader: int
    copies: list[tuple[int, int]]


def collapse_bytes(collapse: object) -> int | None:
    """The signature bytes copies share for a search's ``collapse`` argument: False
    (no collapsing: None), True (``DEFAULT_SIMILARITY``) or a similarity from 0 to 1."""
    if collapse is False or collapse is None:
        return None
    if collapse is True:
        return agreeing_bytes(DEFAULT_SIMILARITY)
    return similarity_bytes(collapse, "collapse")


def similarity_bytes(value: object, name: str = "similarity") -> int:
    """The signature bytes copies share at similarity ``value`` (above 0, at most 1)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1:
        return agreeing_bytes(float(value))
    raise QueryError(f"{name} must be a similarity above 0 and at most 1, not {value!r}")


def collapse_window(wanted: int) -> int:
    """Candidates ranked first for a collapsed page that ends at hit ``wanted``."""
    if wanted > MAX_COLLAPSE_DEPTH:
        raise QueryError(
            f"a collapsed search pages to hit {MAX_COLLAPSE_DEPTH} at most, not {wanted} "
            "(offset + limit): search without collapsing (CLI --no-collapse) to page further"
        )
    return min(MAX_COLLAPSE_WINDOW, max(COLLAPSE_WINDOW, WINDOW_PER_HIT * wanted))


def group_copies(signatures: np.ndarray, at_least: int) -> list[Group]:
    """Candidates (rows of ``signatures``, in result order) grouped by single link:
    two that share ``at_least`` bytes are in one group (a copy trimmed one way and a
    copy trimmed another join through the original), led by its first row. An
    unsigned candidate (all zero: a very short body) is always its own group."""
    signed: np.ndarray = np.any(signatures, axis=1)
    parent = list(range(len(signatures)))

    def root(row: int) -> int:
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    for start in range(0, len(signatures), _BLOCK):
        block = signatures[start : start + _BLOCK]
        earlier = signatures[: start + len(block)]
        agree = np.count_nonzero(block[:, None, :] == earlier[None, :, :], axis=2)
        for row, other in zip(*np.nonzero(agree >= at_least), strict=True):
            row = start + int(row)
            if other < row and signed[row] and signed[other]:
                low, high = sorted((root(row), root(int(other))))
                parent[high] = low  # the group keeps its first row as root
    members: dict[int, list[int]] = {}
    for row in range(len(signatures)):
        members.setdefault(root(row), []).append(row)
    groups = []
    for leader, rows in members.items():
        copies = rows[1:]
        shared = np.count_nonzero(signatures[copies] == signatures[leader], axis=1)
        groups.append(Group(leader, list(zip(copies, shared.tolist(), strict=True))))
    return groups


def duplicates_of(
    snapshot: Snapshot, docs: np.ndarray, copies: list[tuple[int, int]]
) -> list[Duplicate]:
    """The ``Duplicate`` of each (candidate row, shared bytes) in ``copies``, ``docs``
    being the candidates' document numbers."""
    out = []
    for row, agreeing in copies:
        doc = int(docs[row])
        out.append(_duplicate(snapshot, doc, agreeing))
    return out


def source_and_date(snapshot: Snapshot, doc: int) -> tuple[str | None, int | None]:
    """Document ``doc``'s source and publication seconds (None where it has none),
    from the columns: what a copy is listed with."""
    code, published = int(snapshot.source[doc]), int(snapshot.published[doc])
    return (
        snapshot.source_values[code] if code >= 0 else None,
        None if published == MISSING_DATE else published,
    )


def _duplicate(snapshot: Snapshot, doc: int, agreeing: int) -> Duplicate:
    source, published = source_and_date(snapshot, doc)
    date = None if published is None else from_timestamp(published)
    return Duplicate(snapshot.doc_id(doc), source, date, float(similarity(agreeing)))


def duplicates_arguments(doc_id: object, similarity: object) -> int:
    """The bytes copies share for ``duplicates(doc_id, similarity=...)`` (None: the
    default similarity), after checking both arguments."""
    if not isinstance(doc_id, str):
        raise QueryError(f"duplicates() takes an article id (str), not {doc_id!r}")
    return similarity_bytes(DEFAULT_SIMILARITY if similarity is None else similarity)


def find_duplicates(snapshot: Snapshot, docnum: int, at_least: int) -> list[Duplicate]:
    """Every live copy of document ``docnum`` in the snapshot, most similar first
    (then in index order); none for an unsigned article."""
    signature = snapshot.signatures(np.array([docnum]))[0]
    return copies_like(snapshot, signature, at_least, snapshot.doc_id(docnum))


def copies_like(
    snapshot: Snapshot, signature: np.ndarray, at_least: int, doc_id: str
) -> list[Duplicate]:
    """The live articles (but ``doc_id``) sharing ``at_least`` bytes with
    ``signature``, most similar first, then in index order; none if it is unsigned."""
    if not np.any(signature):
        return []
    docs, counts = snapshot.agreeing(signature, at_least)
    order = np.lexsort((docs, -counts))
    found = [_duplicate(snapshot, int(docs[i]), int(counts[i])) for i in order.tolist()]
    return [copy for copy in found if copy.id != doc_id]
