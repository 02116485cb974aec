"""The segment postings file: every scored field's postings, with positions, as arrays.

A segment's postings live once, here (``<segment id>.slp``, an arrays file:
``engine.arrayfile``), beside its stored documents (``engine.docstore``). Per scored
field the file holds:

- ``hash`` (uint64, ascending): a 64-bit hash of each term's bytes; ``blob`` and
  ``terms`` (offsets) the term bytes in the same order; ``lex`` the term numbers in byte
  order (prefix expansion and vocabularies);
- offsets (``terms``, ``posts``, ``pstart``) in the narrowest unsigned type that holds
  them (readers widen what they subtract);
- ``posts`` (offsets per term) into the postings: document numbers, ascending per term,
  delta-coded (``first``: each term's first document; ``gaps``: the differences, 0 at
  each term's first posting), and ``tfs`` (term frequencies less one);
- for positional fields, ``pstart`` (offsets per term) into ``positions``: the postings
  of a term keep their positions one after another, ``tf`` of them each, each
  posting's first position whole and the others as steps from the one before.

``gaps``, ``tfs`` and ``positions`` are patched fixed-width streams (``engine.packed``:
a frequency of 1 takes a bit, most gaps and steps a byte), each stored as the arrays
``STREAM_SUFFIXES`` names. A scored field also keeps its postings' block maxima
(``blockmax``, ``blockmin``, ``blocksize``: ``engine.blockmax``), from which queries
bound scores without reading frequencies or lengths.

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

from searchlib.engine import blockmax, packed
from searchlib.engine.arrayfile import ArrayFileWriter

__all__ = [
    "COLUMN",
    "FIELD_PARTS",
    "POSITION_PARTS",
    "STREAMS",
    "absolute",
    "arrays_path",
    "column_parts",
    "concat_ranges",
    "encode_docs",
    "field_parts",
    "hash_terms",
    "label_codes",
    "lex_order",
    "member",
    "member_ascending",
    "position_steps",
    "stream_parts",
    "term_key",
    "write_columns",
    "write_field",
]

SUFFIX = ".slp"
LEX_PREFIX = 16  # bytes of each term numpy sorts on (a multiple of 8)
COLUMN = "#"  # name prefix of per-document columns (postings fields have none)
STREAMS = ("gaps", "tfs", "positions")  # the packed streams of a field
_PACKED = {stream: [f"{stream}{suffix}" for suffix in packed.STREAM_SUFFIXES] for stream in STREAMS}
FIELD_PARTS = ("hash", "blob", "terms", "lex", "posts", "first", *_PACKED["gaps"], *_PACKED["tfs"])
POSITION_PARTS = ("pstart", *_PACKED["positions"])


def _hash(term: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(term, digest_size=8).digest(), "little")


def term_key(term: bytes) -> np.uint64:
    """The hash a term is filed under in every postings file."""
    return np.uint64(_hash(term))


def hash_terms(terms: list[bytes]) -> np.ndarray:
    return np.fromiter(map(_hash, terms), dtype=np.uint64, count=len(terms))


def arrays_path(folder: str | os.PathLike[str], segment_id: str) -> Path:
    return Path(folder) / f"{segment_id}{SUFFIX}"


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
    narrowed: Iterable[str] = (),
) -> None:
    """A segment's per-document columns into its postings file (see ``column_parts``)."""
    for name, array in column_parts(ids, numbers, labels, narrowed).items():
        writer.add(name, array)


def write_field(
    writer: ArrayFileWriter,
    name: str,
    terms: list[bytes],
    starts: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    positions: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> None:
    """One field's postings, in memory, into a postings file (see ``field_parts``)."""
    for part, array in field_parts(terms, starts, docs, tfs, positions, lengths).items():
        writer.add(f"{name}.{part}", array)


def column_parts(
    ids: list[str],
    numbers: dict[str, np.ndarray],
    labels: dict[str, tuple[np.ndarray, list[str]]],
    narrowed: Iterable[str] = (),
) -> dict[str, np.ndarray]:
    """A segment's per-document columns as arrays: each document's id (bytes and
    offsets) with a hash table from ids to documents, the number columns (those named
    in ``narrowed`` in the narrowest unsigned type that holds them), and each label
    column as codes into its strings (``label_codes``)."""
    parts: dict[str, np.ndarray] = {}
    narrowed = set(narrowed)
    encoded = [doc_id.encode("utf-8") for doc_id in ids]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in encoded], out=offsets[1:])
    hashes = hash_terms(encoded)
    order = np.argsort(hashes, kind="stable")
    parts[f"{COLUMN}id.strings"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    parts[f"{COLUMN}id.stroffsets"] = packed.narrow(offsets)
    parts[f"{COLUMN}id.hash"] = hashes[order]
    parts[f"{COLUMN}id.docs"] = order.astype(np.int32)
    for name, values in numbers.items():
        # Counts in the narrowest type (a title's length mostly fits a byte), dates
        # whole (offset by DATE_OFFSET, they need 63 bits).
        parts[f"{COLUMN}{name}"] = packed.narrow(np.asarray(values)) if name in narrowed else values
    for name, (codes, strings) in labels.items():
        blob = [v.encode("utf-8") for v in strings]
        starts = np.zeros(len(blob) + 1, dtype=np.int64)
        np.cumsum([len(v) for v in blob], out=starts[1:])
        parts[f"{COLUMN}{name}.codes"] = np.asarray(codes, dtype=np.int32)
        parts[f"{COLUMN}{name}.blob"] = np.frombuffer(b"".join(blob), dtype=np.uint8)
        parts[f"{COLUMN}{name}.offsets"] = starts
    return parts


def encode_docs(docs: np.ndarray, posts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delta-code document numbers (ascending within each term; term ``i`` owns
    ``docs[posts[i]:posts[i+1]]``, never empty) as each term's first document and the
    gaps (0 at each term's first posting)."""
    docs = np.asarray(docs, dtype=np.int64)
    starts = posts[:-1]
    gaps = np.diff(docs, prepend=0)
    gaps[starts] = 0
    return docs[starts].astype(np.int32), gaps


def position_steps(positions: np.ndarray, tfs: np.ndarray) -> np.ndarray:
    """Positions (``tfs[i]`` of them per posting, ascending within each) as each
    posting's first position and then the steps between its positions."""
    positions = np.asarray(positions, dtype=np.int64)
    steps = np.diff(positions, prepend=0)
    if len(tfs):
        starts = np.concatenate(([0], np.cumsum(np.asarray(tfs, dtype=np.int64))[:-1]))
        starts = starts[starts < len(positions)]
        steps[starts] = positions[starts]
    return steps


def absolute(steps: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions from their stored form: ``counts[i]`` per posting, the first whole
    and the others as steps (``arrays.position_steps``)."""
    running = np.cumsum(steps)
    if not len(running):
        return running
    ends = np.cumsum(counts)
    # Each posting restarts: subtract what the postings before it summed to.
    before = np.concatenate(([0], running[ends[:-1] - 1]))
    return running - np.repeat(before, counts)


def stream_parts(stream: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """A packed stream's arrays, named as the postings file holds them."""
    return {f"{stream}{suffix}": array for suffix, array in packed.encode(values).items()}


_NO_ROWS = np.zeros(0, dtype=np.int64)


def member(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in the ascending array ``sorted_ids``."""
    if not len(sorted_ids) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    where = np.searchsorted(sorted_ids, ids)
    where[where == len(sorted_ids)] = 0
    return sorted_ids[where] == ids


def member_ascending(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """``member`` for ``ids`` ascending and distinct (a set of documents): the
    shorter array is searched in the longer (a rare word's postings among many
    candidates: a few searches, not one per candidate)."""
    if len(sorted_ids) * 4 >= len(ids):
        return member(ids, sorted_ids)
    found = np.zeros(len(ids), dtype=bool)
    where = np.searchsorted(ids, sorted_ids)
    inside = where < len(ids)
    where = where[inside]
    found[where[ids[where] == sorted_ids[inside]]] = True
    return found


def found_in(ids: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``ids`` ascending and distinct: the rows of ``ids`` found in the ascending
    array ``sorted_ids`` and their places there, searching the shorter in the longer
    (a title's postings among a common word's candidates: a search per posting, not
    one per candidate)."""
    if not len(sorted_ids) or not len(ids):
        return _NO_ROWS, _NO_ROWS
    if len(sorted_ids) * 4 >= len(ids):
        where = np.searchsorted(sorted_ids, ids)
        where[where == len(sorted_ids)] = 0
        rows = np.flatnonzero(sorted_ids[where] == ids)
        return rows, where[rows]
    where = np.searchsorted(ids, sorted_ids)
    places = np.flatnonzero(where < len(ids))
    rows = where[places]
    hit = ids[rows] == sorted_ids[places]
    return rows[hit], places[hit]


def field_parts(
    terms: list[bytes],
    starts: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    positions: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """A field's arrays from its postings: term ``i`` owns ``docs[starts[i]:starts[i+1]]``
    (ascending) and their ``tfs``; ``positions``, if given, ``tf`` per posting in
    posting order; ``lengths``, if given (a scored field), each document's length in
    the field, for the block maxima. Terms in any order, each with at least one posting."""
    starts = np.asarray(starts, dtype=np.int64)
    hashes = hash_terms(terms)
    order = np.lexsort((np.arange(len(terms)), hashes))
    counts = np.diff(starts)[order]
    posts = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=posts[1:])
    gather = concat_ranges(starts[:-1][order], counts)
    tfs = np.asarray(tfs, dtype=np.int64)
    ordered_tfs = tfs[gather]
    parts = term_parts([terms[i] for i in order.tolist()], hashes[order])
    parts["posts"] = packed.narrow(posts)
    ordered_docs = np.asarray(docs, dtype=np.int64)[gather]
    parts["first"], gaps = encode_docs(ordered_docs, posts)
    if lengths is not None:
        found = np.asarray(lengths, dtype=np.int64)[ordered_docs]
        size = blockmax.BLOCK_POSTINGS
        parts.update(blockmax.block_parts(*blockmax.block_corners(ordered_tfs, found, size), size))
    parts.update(stream_parts("gaps", gaps))
    parts.update(stream_parts("tfs", ordered_tfs - 1))
    if positions is not None:
        # Each posting's positions, in the new posting order.
        first = np.zeros(len(tfs) + 1, dtype=np.int64)
        np.cumsum(tfs, out=first[1:])
        moved = concat_ranges(first[:-1][gather], ordered_tfs)
        cumulative = np.zeros(len(ordered_tfs) + 1, dtype=np.int64)
        np.cumsum(ordered_tfs, out=cumulative[1:])
        parts["pstart"] = packed.narrow(cumulative[posts])
        ordered = np.asarray(positions, dtype=np.int64)[moved]
        parts.update(stream_parts("positions", position_steps(ordered, ordered_tfs)))
    return parts


def term_parts(terms: list[bytes], hashes: np.ndarray) -> dict[str, np.ndarray]:
    """A field's term table, ``terms`` already in hash order."""
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(term) for term in terms], out=offsets[1:])
    blob = np.frombuffer(b"".join(terms), dtype=np.uint8)
    return {
        "hash": np.asarray(hashes, dtype=np.uint64),
        "blob": blob,
        "terms": packed.narrow(offsets),
        "lex": lex_order(blob, offsets),
    }


def lex_order(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The term numbers in byte order (term ``i`` is ``blob[offsets[i]:offsets[i+1]]``),
    as ``int32``: numpy sorts the terms' first ``LEX_PREFIX`` bytes, zero-padded, as
    big-endian integers, and the few terms whose padded prefixes are equal are then
    ordered in full. (Where two padded prefixes differ, they order as the terms do.) A
    merge's field holds millions of terms: as Python objects, hundreds of MB."""
    offsets = np.asarray(offsets, dtype=np.int64)
    count = len(offsets) - 1
    if count < 2:
        return np.arange(count, dtype=np.int32)
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    keys = np.zeros((count, LEX_PREFIX), dtype=np.uint8)
    for column in range(int(min(LEX_PREFIX, lengths.max()))):
        has = lengths > column
        keys[has, column] = blob[starts[has] + column]
    words = keys.view(">u8")  # (count, LEX_PREFIX // 8) big-endian: byte order
    order = np.lexsort(words.T[::-1])
    ranked = words[order]
    same = np.all(ranked[1:] == ranked[:-1], axis=1)
    if same.any():
        # Runs of equal prefixes, each ordered by its whole terms.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], same, [0])).astype(np.int8)))
        data = blob.tobytes()
        for first, last in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            run = order[first : last + 1].tolist()
            run.sort(key=lambda i: data[offsets[i] : offsets[i + 1]])
            order[first : last + 1] = run
    return order.astype(np.int32)


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
