"""Posting arrays beside each segment: what BM25 scoring reads, without Whoosh's decoding.

Whoosh stores a posting list as zlib-compressed pickled blocks, and for a positional
field every block carries the positions too; decoding a common term costs
milliseconds. Scoring needs only document numbers and term frequencies, so when a
segment is written the bulk writer also saves, per scored field, every term's
documents and frequencies as flat numpy arrays in one file (``<segment id>.slp``: a
JSON header naming each array's type, shape and offset, then the raw arrays). Readers
memory-map the file, so only the pages a query touches are read; a term is found by
binary search on a 64-bit hash of its bytes and checked against the stored term.
The file also holds the segment's per-document columns that every snapshot needs (exact
field lengths, dates, category and source), so opening an index maps them instead of
decoding Whoosh's columns value by value. The file is named after its segment, so
Whoosh deletes it with the segment; a segment without one (written by a Whoosh merge)
is read through Whoosh until ``Engine.ensure_arrays`` writes it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import mmap
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "SegmentArrays",
    "arrays_path",
    "label_codes",
    "postings_table",
    "term_key",
    "write_segment_arrays",
]

SUFFIX = ".slp"
COLUMN = "#"  # name prefix of per-document columns (postings fields have none)


def _hash(term: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(term, digest_size=8).digest(), "little")


def arrays_path(folder: str | os.PathLike[str], segment_id: str) -> Path:
    return Path(folder) / f"{segment_id}{SUFFIX}"


def write_segment_arrays(
    path: Path,
    fields: dict[str, tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray]],
    columns: dict[str, np.ndarray] | None = None,
    labels: dict[str, tuple[np.ndarray, list[str]]] | None = None,
) -> None:
    """Save, durably, each field's postings given as ``(terms, starts, docs, tfs)``:
    term ``i`` has documents ``docs[starts[i]:starts[i + 1]]`` (ascending) and term
    frequencies ``tfs[...]`` at the same places; terms in any order. ``columns`` are
    numeric per-document values, ``labels`` per-document strings as ``label_codes``
    gives them."""
    arrays: dict[str, np.ndarray] = {}
    for name, values in (columns or {}).items():
        arrays[f"{COLUMN}{name}"] = np.asarray(values)
    for name, (codes, strings) in (labels or {}).items():
        encoded = [v.encode("utf-8") for v in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(v) for v in encoded], out=offsets[1:])
        arrays[f"{COLUMN}{name}.codes"] = np.asarray(codes, dtype=np.int32)
        arrays[f"{COLUMN}{name}.blob"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        arrays[f"{COLUMN}{name}.offsets"] = offsets
    for name, (terms, starts, docs, tfs) in fields.items():
        starts = np.asarray(starts, dtype=np.int64)
        hashes = np.fromiter(map(_hash, terms), dtype=np.uint64, count=len(terms))
        order = np.argsort(hashes, kind="stable")
        counts = np.diff(starts)[order]
        post_offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(counts, out=post_offsets[1:])
        # Gather every term's postings into hash order in one step.
        gather = np.arange(int(post_offsets[-1]), dtype=np.int64) + np.repeat(
            starts[:-1][order] - post_offsets[:-1], counts
        )
        ordered_terms = [terms[i] for i in order.tolist()]
        term_offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum([len(term) for term in ordered_terms], out=term_offsets[1:])
        arrays[f"{name}.hash"] = hashes[order]
        arrays[f"{name}.blob"] = np.frombuffer(b"".join(ordered_terms), dtype=np.uint8)
        arrays[f"{name}.terms"] = term_offsets
        arrays[f"{name}.posts"] = post_offsets
        arrays[f"{name}.docs"] = np.asarray(docs, dtype=np.int32)[gather]
        arrays[f"{name}.tfs"] = np.asarray(tfs, dtype=np.float32)[gather]
    _write_arrays(path, arrays)


def label_codes(values: Iterable[str | None], count: int) -> tuple[np.ndarray, list[str]]:
    """Per-document strings as (a code per document, -1 for none; the strings coded)."""
    table: dict[str, int] = {}
    codes = np.fromiter(
        (table.setdefault(v, len(table)) if v else -1 for v in values), np.int32, count
    )
    return codes, list(table)


def postings_table(
    terms: dict[bytes, tuple[list[int], list[float]]],
) -> tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray]:
    """``term -> (docnums, tfs)`` as the ``(terms, starts, docs, tfs)`` table that
    ``write_segment_arrays`` takes."""
    keys = list(terms)
    starts = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(terms[key][0]) for key in keys], out=starts[1:])
    total = int(starts[-1])
    docs = np.fromiter((d for key in keys for d in terms[key][0]), dtype=np.int64, count=total)
    tfs = np.fromiter((f for key in keys for f in terms[key][1]), dtype=np.float32, count=total)
    return keys, starts, docs, tfs


MAGIC = b"SLP1"


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """One file: MAGIC, header length, JSON header, then 8-byte aligned raw arrays."""
    entries, offset = {}, 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        entries[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += (array.nbytes + 7) // 8 * 8
    header = json.dumps(entries).encode()
    start = (len(MAGIC) + 8 + len(header) + 7) // 8 * 8
    temp = path.with_name(path.name + ".partial")
    with open(temp, "wb") as handle:
        handle.write(MAGIC + len(header).to_bytes(8, "little") + header)
        handle.write(b"\0" * (start - handle.tell()))
        for array in arrays.values():
            data = np.ascontiguousarray(array).tobytes()
            handle.write(data + b"\0" * ((len(data) + 7) // 8 * 8 - len(data)))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{path} is not a searchlib arrays file")
        size = int.from_bytes(handle.read(8), "little")
        entries = json.loads(handle.read(size))
    start = (len(MAGIC) + 8 + size + 7) // 8 * 8
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    arrays = {}
    for name, entry in entries.items():
        count = 1
        for extent in entry["shape"]:
            count *= extent
        # Plain arrays over the map (np.memmap's Python-level indexing is slow).
        arrays[name] = np.frombuffer(
            mapped, dtype=np.dtype(entry["dtype"]), count=count, offset=start + entry["offset"]
        )
    return arrays


class SegmentArrays:
    """Read side of one segment's ``.slp`` file (memory-mapped where possible)."""

    def __init__(self, path: Path) -> None:
        data = _read_arrays(path)
        self._data = data
        self._fields: dict[str, tuple] = {}
        names = {key.removesuffix(".hash") for key in data if key.endswith(".hash")}
        for name in names:
            self._fields[name] = tuple(
                data[f"{name}.{part}"] for part in ("hash", "blob", "terms", "posts", "docs", "tfs")
            )

    def column(self, name: str) -> np.ndarray | None:
        """A numeric per-document column saved with the segment, if it was."""
        return self._data.get(f"{COLUMN}{name}")

    def labels(self, name: str) -> tuple[np.ndarray, list[str]] | None:
        """A string column as (per-document codes, -1 for none; the strings)."""
        codes = self._data.get(f"{COLUMN}{name}.codes")
        if codes is None:
            return None
        blob = self._data[f"{COLUMN}{name}.blob"].tobytes()
        offsets = self._data[f"{COLUMN}{name}.offsets"].tolist()
        try:
            strings = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
        except UnicodeDecodeError:
            return None
        if len(codes) and not -1 <= int(codes.min()) <= int(codes.max()) < len(strings):
            return None  # damaged: the caller reads Whoosh's column instead
        return codes, strings

    @classmethod
    def load(cls, path: Path) -> SegmentArrays | None:
        """The arrays at ``path``, or None when missing or unreadable (Whoosh is used)."""
        try:
            return cls(path)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def has_field(self, field: str) -> bool:
        return field in self._fields

    def postings(
        self, field: str, term: str | bytes, key: np.uint64 | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Local doc numbers and frequencies of ``term``; None if it is not there.
        ``key`` (``term_key``) saves hashing the term again for every segment."""
        hashes, blob, term_offsets, post_offsets, docs, tfs = self._fields[field]
        wanted = term.encode("utf-8") if isinstance(term, str) else term
        if key is None:
            key = term_key(wanted)
        index = int(hashes.searchsorted(key))
        while index < len(hashes) and hashes[index] == key:
            start, end = term_offsets[index : index + 2].tolist()
            if blob[start:end].tobytes() == wanted:
                low, high = post_offsets[index : index + 2].tolist()
                return docs[low:high], tfs[low:high]
            index += 1
        return None


def term_key(term: bytes) -> np.uint64:
    """The hash a term is filed under in every arrays file."""
    return np.uint64(_hash(term))
