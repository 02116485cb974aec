"""One committed state of the index, seen as arrays and postings by the query layer.

A ``Snapshot`` wraps a Whoosh searcher (stored fields, ids, deletions) and each
segment's postings file (``engine.arrays``), and exposes what queries need as numpy
arrays over global document numbers: posting ids, term frequencies and positions,
vocabularies, exact field lengths, live documents, category/source codes and
publication timestamps. Per-segment data are cached across snapshots (segments are
immutable; only their deletions change), so a refresh after a small commit reads only
the new segment. A segment without a postings file (written by Whoosh's own writer) is
read through Whoosh once, into the same arrays.

Whoosh file objects are not safe to share between threads, so every call into Whoosh
holds the snapshot's lock; the postings arrays are immutable and lock-free.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import whoosh.searching  # noqa: F401 - imported with the engine, not by the first query
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

from searchlib.engine.arrays import (
    SegmentArrays,
    arrays_path,
    column_parts,
    field_parts,
    hash_terms,
    label_codes,
    term_key,
)
from searchlib.engine.schema import (
    DATE_OFFSET,
    EXACT,
    LABEL_COLUMNS,
    LENGTH_FIELD,
    MISSING_DATE,
    NUMBER_COLUMNS,
    TEXT_FIELDS,
)

__all__ = ["SCORED_FIELDS", "Snapshot", "most_frequent", "nearest", "whoosh_arrays"]

# The fields whose postings live in the segments' postings files.
SCORED_FIELDS = (*TEXT_FIELDS, *EXACT.values())

# Bytes of recently used posting arrays kept per snapshot (a common word's postings
# in a million articles are megabytes: the budget, not a count, bounds the memory).
POSTINGS_CACHE_BYTES = 256 << 20
_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_TF = np.zeros(0, dtype=np.uint8)


def whoosh_arrays(reader: Any, fields: Iterable[str]) -> SegmentArrays:
    """A segment's postings and columns read through Whoosh into the arrays of a
    postings file (for segments Whoosh's own writer made; slow, but only the test
    reference makes them)."""
    count = reader.doc_count_all()
    stored = [reader.stored_fields(docnum) for docnum in range(count)]
    data = column_parts(
        [doc.get("id") or "" for doc in stored],
        {
            name: np.fromiter(reader.column_reader(name), np.uint64, count)
            for name in NUMBER_COLUMNS
        },
        {name: label_codes((doc.get(name) for doc in stored), count) for name in LABEL_COLUMNS},
    )
    for name in fields:
        if name not in reader.schema:
            continue
        positional = reader.schema[name].format.supports("positions")
        terms: list[bytes] = []
        counts: list[int] = []
        docs: list[int] = []
        tfs: list[int] = []
        positions: list[int] = []
        for raw, _info in reader.iter_field(name):
            matcher = reader.postings(name, raw.decode("utf-8"))
            found = 0
            while matcher.is_active():
                docs.append(matcher.id())
                if positional:
                    where = list(matcher.value_as("positions"))
                    tfs.append(len(where))
                    positions.extend(where)
                else:
                    tfs.append(round(matcher.weight()))
                found += 1
                matcher.next()
            if found:
                terms.append(raw)
                counts.append(found)
        if not terms:
            continue
        starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        parts = field_parts(
            terms,
            starts,
            np.asarray(docs, dtype=np.int64),
            np.asarray(tfs, dtype=np.int64),
            np.asarray(positions, dtype=np.int64) if positional else None,
        )
        data.update({f"{name}.{part}": array for part, array in parts.items()})
    return SegmentArrays(data)


def _open_all_files(leaf: Any) -> None:
    """Open every file of a segment now. A writer deletes the files of segments it
    merged away as soon as it commits; an open file survives that (POSIX), but Whoosh
    opens the stored-fields file lazily, and would find it gone."""
    if leaf.stored_fields(0) is None:  # pragma: no cover - Whoosh returns {} at worst
        raise OSError("stored fields unreadable")


class _SegmentColumns:
    """Postings and columns of one immutable segment, read once: from the segment's
    postings file, else decoded through Whoosh."""

    def __init__(self, reader: Any, folder: Path | None) -> None:
        segment = reader.segment() if hasattr(reader, "segment") else None
        saved = (
            SegmentArrays.load(arrays_path(folder, segment.segment_id()))
            if segment is not None and folder is not None
            else None
        )
        self.saved = saved is not None
        self.arrays: SegmentArrays = saved or whoosh_arrays(reader, SCORED_FIELDS)
        count = reader.doc_count_all()
        numbers: dict[str, np.ndarray] = {}
        for name in NUMBER_COLUMNS:
            column = self.arrays.column(name)
            if column is None or len(column) != count:  # damaged: Whoosh's column
                column = np.fromiter(reader.column_reader(name), np.uint64, count)
            numbers[name] = column
        # The numeric columns as stored (uint64), also what a postings file saves.
        self.numbers = numbers
        self.lengths = {
            name: self.numbers[LENGTH_FIELD[name]].astype(np.float64) for name in TEXT_FIELDS
        }
        self.published = (self.numbers["published_ts"] - np.uint64(DATE_OFFSET)).view(np.int64)
        # Per label column: (code per document, -1 for none; the strings coded).
        self.labels: dict[str, tuple[np.ndarray, list[str]]] = {}
        for name in LABEL_COLUMNS:
            found = self.arrays.labels(name)
            if found is None or len(found[0]) != count:  # damaged: the stored values
                values = (reader.stored_fields(docnum).get(name) for docnum in range(count))
                found = label_codes(values, count)
            self.labels[name] = found


def most_frequent(counts: dict[str, int], limit: int) -> list[str]:
    """Prefix expansions: most frequent first, then in term order."""
    return sorted(counts, key=lambda t: (-counts[t], t))[:limit]


def nearest(counts: dict[str, tuple[int, int]], limit: int) -> list[str]:
    """Fuzzy expansions: most frequent first, then fewest edits, then term order."""
    return sorted(counts, key=lambda t: (-counts[t][0], counts[t][1], t))[:limit]


class Snapshot:
    """A consistent, read-only view of one commit."""

    def __init__(
        self, searcher: Any, generation: int, column_cache: dict, folder: Path | None = None
    ) -> None:
        self._folder = folder
        self.searcher = searcher
        self.generation = generation
        self._lock = threading.RLock()
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._vocabularies: dict[tuple[str, int], dict[str, int]] = {}
        self._cached_bytes = 0
        reader = searcher.reader()
        self._leaves = [
            (leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.doc_count_all()
        ]
        self.max_doc = reader.doc_count_all()
        self.doc_count = reader.doc_count()
        self._build_arrays(column_cache)

    def _build_arrays(self, column_cache: dict) -> None:
        size = self.max_doc
        self.live = np.zeros(size, dtype=bool)
        self.lengths = {name: np.zeros(size, dtype=np.float64) for name in TEXT_FIELDS}
        self.published = np.full(size, MISSING_DATE, dtype=np.int64)
        self.category_values: list[str] = []
        self.source_values: list[str] = []
        self.category = np.full(size, -1, dtype=np.int32)
        self.source = np.full(size, -1, dtype=np.int32)
        codes_by_label: dict[str, dict[str, int]] = {"category": {}, "source": {}}
        self._leaf_columns: list[_SegmentColumns] = []
        used = {}
        for leaf, offset in self._leaves:
            count = leaf.doc_count_all()
            _open_all_files(leaf)
            segment = leaf.segment() if hasattr(leaf, "segment") else None
            key = segment.segment_id() if segment is not None else None
            columns = column_cache.get(key) if key else None
            saved_since = (
                columns is not None
                and not columns.saved
                and self._folder is not None
                and arrays_path(self._folder, str(key)).exists()
            )
            if saved_since:
                columns = None  # its arrays were written after it was cached: use them
            if columns is None:
                columns = _SegmentColumns(leaf, self._folder)
            if key:
                used[key] = columns
            self._leaf_columns.append(columns)
            window = slice(offset, offset + count)
            live = np.ones(count, dtype=bool)
            if leaf.has_deletions():
                live[np.fromiter(leaf.segment().deleted_docs(), np.int64)] = False
            self.live[window] = live
            for name in TEXT_FIELDS:
                self.lengths[name][window] = columns.lengths[name]
            self.published[window] = columns.published
            for name, (codes, strings) in columns.labels.items():
                table = codes_by_label[name]
                names = self.category_values if name == "category" else self.source_values
                target = self.category if name == "category" else self.source
                # Segment codes -> snapshot codes (a segment's own code table is small).
                mapping = np.empty(len(strings) + 1, dtype=np.int32)
                mapping[-1] = -1
                for local, value in enumerate(strings):
                    code = table.get(value)
                    if code is None:
                        code = table[value] = len(names)
                        names.append(value)
                    mapping[local] = code
                target[window] = mapping[codes]
        column_cache.clear()
        column_cache.update(used)
        self.field_docs = {}
        self.total_length = {}
        self.avg_length = {}
        for name in TEXT_FIELDS:
            live_lengths = self.lengths[name][self.live]
            docs = int(np.count_nonzero(live_lengths))
            total = float(live_lengths.sum())
            self.field_docs[name] = docs
            self.total_length[name] = total
            self.avg_length[name] = total / docs if docs else 0.0

    @property
    def segment_count(self) -> int:
        """Segments holding documents."""
        return len(self._leaves)

    # -- postings ------------------------------------------------------------------

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global doc numbers (sorted) and term frequencies (unsigned integers) of
        ``term`` in ``field``, deleted documents included (callers mask with ``live``)."""
        key = (field, term)
        with self._lock:
            cached = self._postings.get(key)
            if cached is not None:
                self._postings.move_to_end(key)
                return cached
        id_parts, tf_parts = [], []
        wanted = term.encode("utf-8")
        hashed = term_key(wanted)
        for (_leaf, offset), columns in zip(self._leaves, self._leaf_columns, strict=True):
            found = columns.arrays.postings(field, wanted, hashed)
            if found is not None:
                id_parts.append(found[0].astype(np.int64) + offset)
                tf_parts.append(found[1])
        if id_parts:
            result = (np.concatenate(id_parts), np.concatenate(tf_parts))
        else:
            result = (_EMPTY_IDS, _EMPTY_TF)
        size = result[0].nbytes + result[1].nbytes
        with self._lock:
            if key not in self._postings:
                self._postings[key] = result
                self._cached_bytes += size
            while self._cached_bytes > POSTINGS_CACHE_BYTES and len(self._postings) > 1:
                _key, (ids, tfs) = self._postings.popitem(last=False)
                self._cached_bytes -= ids.nbytes + tfs.nbytes
        return result

    def positions_flat(
        self, field: str, term: str, docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every (document, position) of ``term`` in ``field`` within ``docs`` (sorted
        global numbers), as two parallel arrays."""
        encoded = term.encode("utf-8")
        hashed = term_key(encoded)
        doc_parts, position_parts = [], []
        for (leaf, offset), columns in zip(self._leaves, self._leaf_columns, strict=True):
            arrays = columns.arrays.fields.get(field)
            if arrays is None or not arrays.positional:
                continue
            low, high = np.searchsorted(docs, [offset, offset + leaf.doc_count_all()])
            if low == high:
                continue
            index = arrays.find(encoded, hashed)
            if index >= 0:
                found, positions = arrays.positions_flat(index, docs[low:high] - offset)
                doc_parts.append(found + offset)
                position_parts.append(positions)
        if not doc_parts:
            return _EMPTY_IDS, _EMPTY_IDS
        return np.concatenate(doc_parts), np.concatenate(position_parts)

    def document_frequency(self, field: str, term: str) -> int:
        """Live documents containing ``term`` in ``field``."""
        ids, _ = self.postings(field, term)
        return int(np.count_nonzero(self.live[ids])) if len(ids) else 0

    # -- vocabulary ----------------------------------------------------------------

    def prefix_counts(self, field: str, prefix: str) -> dict[str, int]:
        """Every term of ``field`` starting with ``prefix``, with its document count
        (summed over segments: shards' counts add up the same way)."""
        counts: dict[bytes, int] = {}
        wanted = prefix.encode("utf-8")
        for columns in self._leaf_columns:
            arrays = columns.arrays.fields.get(field)
            if arrays is not None:
                for term, frequency in arrays.terms_with_prefix(wanted):
                    counts[term] = counts.get(term, 0) + frequency
        return {term.decode("utf-8", "replace"): count for term, count in counts.items()}

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` terms of ``field`` starting with ``prefix``, most frequent first."""
        return most_frequent(self.prefix_counts(field, prefix), limit)

    def near_counts(self, field: str, word: str, distance: int) -> dict[str, tuple[int, int]]:
        """Terms of ``field`` within ``distance`` edits of ``word``: (count, edits)."""
        vocabulary = self.term_doc_frequencies(field)
        matches = extract(
            word, list(vocabulary), scorer=Levenshtein.distance, score_cutoff=distance, limit=None
        )
        return {term: (vocabulary[term], edits) for term, edits, _index in matches}

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]:
        """Terms of ``field`` within ``distance`` edits of ``word``, most frequent first."""
        return nearest(self.near_counts(field, word, distance), limit)

    def term_doc_frequencies(self, field: str, min_docs: int = 1) -> dict[str, int]:
        """Every term of ``field`` held by at least ``min_docs`` documents, with that count
        (deleted documents not yet merged away count), read once per snapshot."""
        key = (field, min_docs)
        with self._lock:
            cached = self._vocabularies.get(key)
        if cached is not None:
            return cached
        counts: dict[bytes, int] = {}
        for columns in self._leaf_columns:
            arrays = columns.arrays.fields.get(field)
            if arrays is not None:
                for term, frequency in arrays.vocabulary().items():
                    counts[term] = counts.get(term, 0) + frequency
        result = {
            term.decode("utf-8", "replace"): count
            for term, count in counts.items()
            if count >= min_docs
        }
        with self._lock:
            self._vocabularies[key] = result
        return result

    def vocabulary_size(self, field: str) -> int:
        return len(self.term_doc_frequencies(field))

    # -- stored documents ----------------------------------------------------------

    def stored(self, docnum: int) -> dict[str, Any]:
        with self._lock:
            return self.searcher.stored_fields(int(docnum))

    def docnum_of(self, doc_id: str) -> int | None:
        """The live document with ``doc_id``, or None."""
        keys = hash_terms([doc_id.encode("utf-8")])
        for (_leaf, offset), columns in zip(self._leaves, self._leaf_columns, strict=True):
            for _index, doc in columns.arrays.id_documents([doc_id], keys):
                if self.live[doc + offset]:
                    return doc + offset
        return None

    def live_docnums(self) -> Iterator[int]:
        return iter(np.flatnonzero(self.live).tolist())

    def close(self) -> None:
        with self._lock:
            self.searcher.close()
