"""The segment postings file: every scored field's postings, with positions, as arrays.

A segment's postings live once, here (``<segment id>.slp``, an arrays file:
``engine.arrayfile``), beside its stored documents (``engine.docstore``). Per scored
field the file holds:

- ``hash`` (uint64, ascending): a 64-bit hash of each term's bytes; ``blob`` and
  ``terms`` (offsets) the term bytes in the same order; ``lex`` the term numbers in byte
  order (prefix expansion and vocabularies);
- ``posts`` (offsets per term) into the postings: document numbers, ascending per term,
  delta-coded (``first``: each term's first document; ``gaps``: 16-bit differences, a
  gap too large for 16 bits written as ``ESCAPE`` with its value in ``exc``, the term's
  share of which starts at ``excoff``), and ``tfs`` (term frequencies, the narrowest
  unsigned type that holds them);
- for positional fields, ``pstart`` (offsets per term) into ``positions``: the postings
  of a term keep their positions one after another, ``tf`` of them each.

Terms are ordered by hash, so a lookup is a binary search, and a merge can walk every
segment's terms in one global order, a hash range at a time, with bounded memory.
Per-document columns (exact field lengths, dates, category and source) and the id
table (id -> document, by hash) are kept too. This module writes the file and holds
its layout; ``engine.arrays_read`` reads it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from searchlib.engine.arrayfile import ArrayFileWriter

__all__ = [
    "COLUMN",
    "ESCAPE",
    "FIELD_PARTS",
    "arrays_path",
    "column_parts",
    "concat_ranges",
    "encode_docs",
    "field_parts",
    "hash_terms",
    "label_codes",
    "member",
    "narrow_unsigned",
    "term_key",
    "write_columns",
    "write_field",
]

SUFFIX = ".slp"
COLUMN = "#"  # name prefix of per-document columns (postings fields have none)
FIELD_PARTS = ("hash", "blob", "terms", "lex", "posts", "first", "gaps", "exc", "excoff", "tfs")
ESCAPE = 0xFFFF  # a gap of 16 bits that stands for the next exception


def _hash(term: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(term, digest_size=8).digest(), "little")


def term_key(term: bytes) -> np.uint64:
    """The hash a term is filed under in every postings file."""
    return np.uint64(_hash(term))


def hash_terms(terms: list[bytes]) -> np.ndarray:
    return np.fromiter(map(_hash, terms), dtype=np.uint64, count=len(terms))


def arrays_path(folder: str | os.PathLike[str], segment_id: str) -> Path:
    return Path(folder) / f"{segment_id}{SUFFIX}"


def narrow_unsigned(values: np.ndarray) -> np.ndarray:
    """``values`` (non-negative integers) in the narrowest of uint8/16/32."""
    top = int(values.max(initial=0))
    for kind in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(kind).max:
            return values.astype(kind, copy=False)
    raise ValueError(f"value {top} is too large for a postings array")


def label_codes(values: Iterable[str | None], count: int) -> tuple[np.ndarray, list[str]]:
    """Per-document strings as (a code per document, -1 for none; the strings coded)."""
    table: dict[str, int] = {}
    codes = np.fromiter(
        (table.setdefault(v, len(table)) if v else -1 for v in values), np.int32, count
    )
    return codes, list(table)


def write_columns(
    writer: ArrayFileWriter,
    ids: list[str],
    numbers: dict[str, np.ndarray],
    labels: dict[str, tuple[np.ndarray, list[str]]],
) -> None:
    """A segment's per-document columns into its postings file (see ``column_parts``)."""
    for name, array in column_parts(ids, numbers, labels).items():
        writer.add(name, array)


def write_field(
    writer: ArrayFileWriter,
    name: str,
    terms: list[bytes],
    starts: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    positions: np.ndarray | None = None,
) -> None:
    """One field's postings, in memory, into a postings file (see ``field_parts``)."""
    for part, array in field_parts(terms, starts, docs, tfs, positions).items():
        writer.add(f"{name}.{part}", array)


def column_parts(
    ids: list[str],
    numbers: dict[str, np.ndarray],
    labels: dict[str, tuple[np.ndarray, list[str]]],
) -> dict[str, np.ndarray]:
    """A segment's per-document columns as arrays: each document's id (bytes and
    offsets) with a hash table from ids to documents, the number columns, and each
    label column as codes into its strings (``label_codes``)."""
    parts: dict[str, np.ndarray] = {}
    encoded = [doc_id.encode("utf-8") for doc_id in ids]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in encoded], out=offsets[1:])
    hashes = hash_terms(encoded)
    order = np.argsort(hashes, kind="stable")
    parts[f"{COLUMN}id.strings"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    parts[f"{COLUMN}id.stroffsets"] = offsets
    parts[f"{COLUMN}id.hash"] = hashes[order]
    parts[f"{COLUMN}id.docs"] = order.astype(np.int32)
    for name, values in numbers.items():
        parts[f"{COLUMN}{name}"] = np.asarray(values)
    for name, (codes, strings) in labels.items():
        blob = [v.encode("utf-8") for v in strings]
        starts = np.zeros(len(blob) + 1, dtype=np.int64)
        np.cumsum([len(v) for v in blob], out=starts[1:])
        parts[f"{COLUMN}{name}.codes"] = np.asarray(codes, dtype=np.int32)
        parts[f"{COLUMN}{name}.blob"] = np.frombuffer(b"".join(blob), dtype=np.uint8)
        parts[f"{COLUMN}{name}.offsets"] = starts
    return parts


def encode_docs(docs: np.ndarray, posts: np.ndarray) -> dict[str, np.ndarray]:
    """Delta-code document numbers (ascending within each term; term ``i`` owns
    ``docs[posts[i]:posts[i+1]]``, never empty) as ``first``, ``gaps``, ``exc`` and
    ``excoff`` (see the module docstring)."""
    docs = np.asarray(docs, dtype=np.int64)
    starts = posts[:-1]
    gaps = np.diff(docs, prepend=0)
    gaps[starts] = 0
    escaped = gaps >= ESCAPE
    per_term = np.add.reduceat(escaped.astype(np.int64), starts) if len(starts) else starts
    excoff = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(per_term, out=excoff[1:])
    return {
        "first": docs[starts].astype(np.int32),
        "gaps": np.where(escaped, ESCAPE, gaps).astype(np.uint16),
        "exc": gaps[escaped].astype(np.uint32),
        "excoff": excoff,
    }


def member(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in the ascending array ``sorted_ids``."""
    if not len(sorted_ids) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    where = np.searchsorted(sorted_ids, ids)
    where[where == len(sorted_ids)] = 0
    return sorted_ids[where] == ids


def field_parts(
    terms: list[bytes],
    starts: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    positions: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """A field's arrays from its postings: term ``i`` owns ``docs[starts[i]:starts[i+1]]``
    (ascending) and their ``tfs``; ``positions``, if given, ``tf`` per posting in
    posting order. Terms in any order, each with at least one posting."""
    starts = np.asarray(starts, dtype=np.int64)
    hashes = hash_terms(terms)
    order = np.lexsort((np.arange(len(terms)), hashes))
    counts = np.diff(starts)[order]
    posts = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=posts[1:])
    gather = concat_ranges(starts[:-1][order], counts)
    tfs = np.asarray(tfs)
    ordered_tfs = narrow_unsigned(tfs[gather])
    parts = term_parts([terms[i] for i in order.tolist()], hashes[order])
    parts["posts"] = posts
    parts.update(encode_docs(np.asarray(docs, dtype=np.int64)[gather], posts))
    parts["tfs"] = ordered_tfs
    if positions is not None:
        # Each posting's positions, in the new posting order.
        tf64 = tfs.astype(np.int64)
        first = np.zeros(len(tf64) + 1, dtype=np.int64)
        np.cumsum(tf64, out=first[1:])
        moved = concat_ranges(first[:-1][gather], tf64[gather])
        cumulative = np.zeros(len(ordered_tfs) + 1, dtype=np.int64)
        np.cumsum(ordered_tfs, out=cumulative[1:])
        parts["pstart"] = cumulative[posts]
        parts["positions"] = narrow_unsigned(np.asarray(positions, dtype=np.int64)[moved])
    return parts


def term_parts(terms: list[bytes], hashes: np.ndarray) -> dict[str, np.ndarray]:
    """A field's term table, ``terms`` already in hash order."""
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(term) for term in terms], out=offsets[1:])
    lex = sorted(range(len(terms)), key=terms.__getitem__)
    return {
        "hash": np.asarray(hashes, dtype=np.uint64),
        "blob": np.frombuffer(b"".join(terms), dtype=np.uint8),
        "terms": offsets,
        "lex": np.asarray(lex, dtype=np.int32),
    }


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(s, s + c)`` for each start and count."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) + np.repeat(
        np.asarray(starts) - (ends - counts), counts
    )
