"""One committed state of the index, seen as arrays and postings by the query layer.

A ``Snapshot`` is one commit point's segments (``engine.segment``), exposing what
queries need as numpy arrays over global document numbers: posting ids, term
frequencies and positions, vocabularies, exact field lengths, live documents,
category/source codes and publication timestamps, and stored documents by number.
Segments are immutable, so their readers and columns are shared across snapshots
(only deletions change between commits): a refresh after a small commit opens only the
new segment. The postings arrays are immutable and lock-free; caches hold a lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

from searchlib.engine.arrays import hash_terms, term_key
from searchlib.engine.arrays_read import FieldArrays
from searchlib.engine.blockmax import TermBlocks
from searchlib.engine.commit import CommitPoint
from searchlib.engine.schema import (
    DATE_OFFSET,
    LABEL_COLUMNS,
    LENGTH_FIELD,
    MISSING_DATE,
    NUMBER_COLUMNS,
    SCORED_FIELDS,
    TEXT_FIELDS,
)
from searchlib.engine.segment import SegmentReader
from searchlib.engine.signature import SIGNATURE_BYTES
from searchlib.errors import IndexCorruptError

__all__ = [
    "SCORED_FIELDS",
    "SegmentColumns",
    "Snapshot",
    "most_frequent",
    "nearest",
]

# Bytes of recently used posting arrays kept per snapshot (a common word's postings
# in a million articles are megabytes: the budget, not a count, bounds the memory).
POSTINGS_CACHE_BYTES = 256 << 20
# Documents read in order between two releases of the doc stores' pages.
RELEASE_EVERY = 15_000
_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_TF = np.zeros(0, dtype=np.uint8)


class SegmentColumns:
    """One immutable segment opened, with its columns as the snapshot uses them."""

    def __init__(self, reader: SegmentReader) -> None:
        self.reader = reader
        self.arrays = reader.arrays
        count = reader.doc_count
        numbers: dict[str, np.ndarray] = {}
        for name in NUMBER_COLUMNS:
            column = self.arrays.column(name)
            if column is None or len(column) != count:
                raise IndexCorruptError(
                    f"index file of segment {reader.info.id!r} lacks its {name} column"
                )
            numbers[name] = column
        # The numeric columns as stored (uint64), also what a postings file saves.
        self.numbers = numbers
        # Exact token counts by text field, as stored (the snapshot converts them once).
        self.lengths = {name: self.numbers[LENGTH_FIELD[name]] for name in TEXT_FIELDS}
        self.published = (self.numbers["published_ts"] - np.uint64(DATE_OFFSET)).view(np.int64)
        # Per label column: (code per document, -1 for none; the strings coded).
        self.labels: dict[str, tuple[np.ndarray, list[str]]] = {}
        for name in LABEL_COLUMNS:
            found = self.arrays.labels(name)
            if found is None or len(found[0]) != count:
                raise IndexCorruptError(
                    f"index file of segment {reader.info.id!r} has a damaged {name} column"
                )
            self.labels[name] = found
        # Near-duplicate signatures, one row per document (engine.signature).
        self.signatures = self.arrays.signatures()


def most_frequent(counts: dict[str, int], limit: int) -> list[str]:
    """Prefix expansions: most frequent first, then in term order."""
    return sorted(counts, key=lambda t: (-counts[t], t))[:limit]


def nearest(counts: dict[str, tuple[int, int]], limit: int) -> list[str]:
    """Fuzzy expansions: most frequent first, then fewest edits, then term order."""
    return sorted(counts, key=lambda t: (-counts[t][0], counts[t][1], t))[:limit]


class Snapshot:
    """A consistent, read-only view of one commit."""

    def __init__(
        self, folder: Path, commit: CommitPoint, segment_cache: dict[str, SegmentColumns]
    ) -> None:
        """``segment_cache`` maps segment ids to segments already open; it is updated
        to hold exactly this commit's."""
        self._folder = Path(folder)
        self.commit = commit
        self.generation = commit.generation
        self._lock = threading.RLock()
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._vocabularies: dict[tuple[str, int], dict[str, int]] = {}
        self._cached_bytes = 0
        self._segments: list[SegmentColumns] = []
        self._offsets: list[int] = []
        deletions = []
        offset = 0
        used = {}
        for info in commit.segments:
            columns = segment_cache.get(info.id)
            if columns is None:
                columns = SegmentColumns(SegmentReader(self._folder, info))
            used[info.id] = columns
            deleted = columns.reader.deletions(info)
            if not info.doc_count:
                continue
            self._segments.append(columns)
            self._offsets.append(offset)
            deletions.append(deleted)
            offset += info.doc_count
        segment_cache.clear()
        segment_cache.update(used)
        self.max_doc = offset
        self._build_arrays(deletions)
        self.doc_count = int(np.count_nonzero(self.live))
        self._has_deletions = self.doc_count < self.max_doc

    def _leaves(self) -> Iterator[tuple[SegmentColumns, int]]:
        return zip(self._segments, self._offsets, strict=True)

    def _build_arrays(self, deletions: list[np.ndarray]) -> None:
        """What every search reads: live documents and field lengths (the dates and
        labels are built when first read: ``published``, ``category``, ``source``)."""
        size = self.max_doc
        self.live = np.zeros(size, dtype=bool)
        self.lengths = {name: np.zeros(size, dtype=np.float64) for name in TEXT_FIELDS}
        for (columns, offset), deleted in zip(self._leaves(), deletions, strict=True):
            window = slice(offset, offset + columns.reader.doc_count)
            self.live[window] = ~deleted
            for name in TEXT_FIELDS:
                self.lengths[name][window] = columns.lengths[name]
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

    @cached_property
    def published(self) -> np.ndarray:
        """Each document's publication time (seconds UTC; ``MISSING_DATE`` if none)."""
        published = np.full(self.max_doc, MISSING_DATE, dtype=np.int64)
        for columns, offset in self._leaves():
            published[offset : offset + columns.reader.doc_count] = columns.published
        return published

    @cached_property
    def _labels(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """Per label column: each document's code (-1 for none) into the snapshot's
        strings (segments' own codes mapped to one table)."""
        out = {}
        for name in LABEL_COLUMNS:
            names: list[str] = []
            table: dict[str, int] = {}
            target = np.full(self.max_doc, -1, dtype=np.int32)
            for columns, offset in self._leaves():
                codes, strings = columns.labels[name]
                # Segment codes -> snapshot codes (a segment's own code table is small).
                mapping = np.empty(len(strings) + 1, dtype=np.int32)
                mapping[-1] = -1
                for local, value in enumerate(strings):
                    code = table.get(value)
                    if code is None:
                        code = table[value] = len(names)
                        names.append(value)
                    mapping[local] = code
                target[offset : offset + columns.reader.doc_count] = mapping[codes]
            out[name] = (target, names)
        return out

    @property
    def category(self) -> np.ndarray:
        return self._labels["category"][0]

    @property
    def category_values(self) -> list[str]:
        return self._labels["category"][1]

    @property
    def source(self) -> np.ndarray:
        return self._labels["source"][0]

    @property
    def source_values(self) -> list[str]:
        return self._labels["source"][1]

    @property
    def segment_count(self) -> int:
        """Segments holding documents."""
        return len(self._segments)

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
        id_parts, tf_parts, offsets = [], [], []
        wanted = term.encode("utf-8")
        hashed = term_key(wanted)
        for columns, offset in self._leaves():
            found = columns.arrays.postings(field, wanted, hashed)
            if found is not None:
                id_parts.append(found[0])  # int64, decoded for this read: ours to change
                tf_parts.append(found[1])
                offsets.append(offset)
        if len(id_parts) == 1:
            result = (id_parts[0], tf_parts[0])
        elif id_parts:
            result = (np.concatenate(id_parts), np.concatenate(tf_parts))
        else:
            result = (_EMPTY_IDS, _EMPTY_TF)
        # Segment numbers made global in place (a common word's postings are
        # megabytes: no copy per step).
        start = 0
        for part, offset in zip(id_parts, offsets, strict=True):
            if offset:
                result[0][start : start + len(part)] += offset
            start += len(part)
        size = result[0].nbytes + result[1].nbytes
        with self._lock:
            if key not in self._postings:
                self._postings[key] = result
                self._cached_bytes += size
            while self._cached_bytes > POSTINGS_CACHE_BYTES and len(self._postings) > 1:
                _key, (ids, tfs) = self._postings.popitem(last=False)
                self._cached_bytes -= ids.nbytes + tfs.nbytes
        return result

    def term_blocks(self, field: str, term: str) -> TermBlocks | None:
        """The block maxima (``engine.blockmax``) of ``term``'s postings in ``field``,
        in the order ``postings`` gives them; None if a segment holding the term has
        none (a field that is not scored)."""
        wanted = term.encode("utf-8")
        hashed = term_key(wanted)
        pieces = []
        for columns, _offset in self._leaves():
            arrays = columns.arrays.field(field)
            index = -1 if arrays is None else arrays.find(wanted, hashed)
            if arrays is None or index < 0:
                continue
            low, high = (int(v) for v in arrays.posts[index : index + 2])
            found = arrays.blocks(low, high)
            if found is None:
                return None
            first, highest, lowest = found
            skip = low - first * arrays.block_size  # postings of other terms in its first block
            pieces.append((high - low, skip, arrays.block_size, highest, lowest))
        return TermBlocks(pieces)

    def positions_flat(
        self, field: str, term: str, docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every (document, position) of ``term`` in ``field`` within ``docs`` (sorted
        global numbers), as two parallel arrays."""
        encoded = term.encode("utf-8")
        hashed = term_key(encoded)
        # The term's postings as the snapshot keeps them (a phrase's words are scored
        # too, so mostly already read): not decoded again per segment.
        ids, frequencies = self.postings(field, term)
        doc_parts, position_parts = [], []
        for columns, offset in self._leaves():
            arrays = columns.arrays.field(field)
            if arrays is None or not arrays.positional:
                continue
            end = offset + columns.reader.doc_count
            low, high = np.searchsorted(docs, [offset, end])
            first, last = np.searchsorted(ids, [offset, end])
            if low == high or first == last:
                continue
            index = arrays.find(encoded, hashed)
            if index < 0:
                raise IndexCorruptError(f"{arrays.where} has postings of {term!r} but not the term")
            # Searched and answered in the snapshot's numbering: nothing renumbered per ask.
            found, positions = arrays.positions_in(
                index, ids[first:last], frequencies[first:last], docs[low:high]
            )
            doc_parts.append(found)
            position_parts.append(positions)
        if not doc_parts:
            return _EMPTY_IDS, _EMPTY_IDS
        return np.concatenate(doc_parts), np.concatenate(position_parts)

    def document_frequency(self, field: str, term: str) -> int:
        """Live documents containing ``term`` in ``field``: counted from the term
        tables where no segment has deletions (a shard's statistics for another's
        ranking need no postings decoded), else from the postings."""
        with self._lock:
            cached = self._postings.get((field, term))
        if cached is None and not self._has_deletions:
            wanted = term.encode("utf-8")
            hashed = term_key(wanted)
            return sum(
                columns.arrays.doc_frequency(field, wanted, hashed) for columns in self._segments
            )
        ids, _ = self.postings(field, term) if cached is None else cached
        return int(np.count_nonzero(self.live[ids])) if len(ids) else 0

    # -- vocabulary ----------------------------------------------------------------

    def prefix_counts(self, field: str, prefix: str) -> dict[str, int]:
        """Every term of ``field`` starting with ``prefix``, with its document count
        (summed over segments: shards' counts add up the same way)."""
        counts: dict[bytes, int] = {}
        wanted = prefix.encode("utf-8")
        for columns in self._segments:
            arrays = columns.arrays.field(field)
            if arrays is not None:
                for term, frequency in arrays.terms_with_prefix(wanted):
                    counts[term] = counts.get(term, 0) + frequency
        return {term.decode("utf-8", "replace"): count for term, count in counts.items()}

    def frequent_with_prefix(self, field: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` most frequent terms of ``field`` starting with ``prefix``, with
        their document counts summed over segments: candidates from each segment's
        ``PrefixIndex`` (no vocabulary scan), merged by their hash, then exact counts for
        the best of them; terms are decoded only for the answer."""
        wanted = prefix.encode("utf-8")
        present = self._field_arrays(field)
        found_keys, found_counts, where = [], [], []
        for number, arrays in enumerate(present):
            chosen, counts = arrays.prefixes.top_indexes(wanted, max(limit * 2, 16))
            found_keys.append(arrays.hash[chosen])
            found_counts.append(counts)
            where.append(np.stack([np.full(len(chosen), number), chosen]))
        if not present or not sum(len(k) for k in found_keys):
            return []
        keys, first, inverse = np.unique(
            np.concatenate(found_keys), return_index=True, return_inverse=True
        )
        rough = np.bincount(inverse, weights=np.concatenate(found_counts))
        best = np.argsort(-rough, kind="stable")[: limit * 2]
        exact = self._counts_by_key(present, keys[best])
        places = np.concatenate(where, axis=1)  # (segment, term number) of each candidate
        out = []
        for slot, count in zip(best.tolist(), exact.tolist(), strict=True):
            number, index = places[:, first[slot]].tolist()
            out.append((present[number].term(index).decode("utf-8", "replace"), count))
        out.sort(key=lambda pair: (-pair[1], pair[0]))
        return out[:limit]

    def prepare_prefixes(self, fields: Iterable[str]) -> None:
        """Build each segment's prefix tables of ``fields`` now (the first
        ``frequent_with_prefix`` of a process would otherwise)."""
        for field in fields:
            for arrays in self._field_arrays(field):
                arrays.prefixes.prepare()

    def document_counts(self, field: str, terms: list[str]) -> list[int]:
        """Each term's document count in ``field`` over every segment (by hash)."""
        keys = np.fromiter(
            (term_key(t.encode("utf-8")) for t in terms), dtype=np.uint64, count=len(terms)
        )
        present = self._field_arrays(field)
        return self._counts_by_key(present, keys).tolist()

    def _field_arrays(self, field: str) -> list[FieldArrays]:
        """``field``'s arrays in each segment that has it."""
        found = (c.arrays.field(field) for c in self._segments)
        return [arrays for arrays in found if arrays is not None]

    @staticmethod
    def _counts_by_key(fields: list[FieldArrays], keys: np.ndarray) -> np.ndarray:
        counts = np.zeros(len(keys), dtype=np.int64)
        for arrays in fields:
            counts += arrays.frequencies_of(keys)
        return counts

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
        for columns in self._segments:
            arrays = columns.arrays.field(field)
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

    # -- near-duplicate signatures -------------------------------------------------

    def signatures(self, docnums: np.ndarray) -> np.ndarray:
        """The signatures of documents ``docnums``, one row each, in the order given."""
        docnums = np.asarray(docnums, dtype=np.int64)
        out = np.zeros((len(docnums), SIGNATURE_BYTES), dtype=np.uint8)
        for columns, offset in self._leaves():
            inside = (docnums >= offset) & (docnums < offset + columns.reader.doc_count)
            if inside.any():
                out[inside] = columns.signatures[docnums[inside] - offset]
        return out

    def agreeing(self, signature: np.ndarray, at_least: int) -> tuple[np.ndarray, np.ndarray]:
        """Live documents whose signature shares at least ``at_least`` bytes with
        ``signature``, and how many each shares (one pass over the signature columns)."""
        doc_parts, count_parts = [_EMPTY_IDS], [_EMPTY_IDS]
        for columns, offset in self._leaves():
            counts = np.count_nonzero(columns.signatures == signature, axis=1)
            local = np.flatnonzero(counts >= at_least)
            local = local[self.live[local + offset]]
            doc_parts.append(local + offset)
            count_parts.append(counts[local])
        return np.concatenate(doc_parts), np.concatenate(count_parts)

    # -- stored documents ----------------------------------------------------------

    def _locate(self, docnum: int) -> tuple[SegmentColumns, int]:
        docnum = int(docnum)
        if not 0 <= docnum < self.max_doc:
            raise IndexError(f"document number {docnum} is not in this snapshot")
        at = int(np.searchsorted(self._offsets, docnum, side="right")) - 1
        return self._segments[at], docnum - self._offsets[at]

    def stored(self, docnum: int) -> dict[str, Any]:
        """Document ``docnum``'s stored fields (decoded from its doc store block)."""
        columns, local = self._locate(docnum)
        return columns.reader.stored(local)

    def doc_id(self, docnum: int) -> str:
        """Document ``docnum``'s id, from the id column (no stored document decoded)."""
        columns, local = self._locate(docnum)
        return columns.arrays.id_at(local)

    def docnum_of(self, doc_id: str) -> int | None:
        """The live document with ``doc_id``, or None."""
        keys = hash_terms([doc_id.encode("utf-8")])
        for columns, offset in self._leaves():
            for _index, doc in columns.arrays.id_documents([doc_id], keys):
                if self.live[doc + offset]:
                    return doc + offset
        return None

    def live_docnums(self) -> Iterator[int]:
        return iter(np.flatnonzero(self.live).tolist())

    def stored_documents(self) -> Iterator[dict[str, Any]]:
        """Every live document's stored fields, in order: each doc store block decoded
        once, and the stores' pages let go every ``RELEASE_EVERY`` documents (read
        once, they need not stay resident: an export of a million articles)."""
        for count, docnum in enumerate(self.live_docnums(), start=1):
            yield self.stored(docnum)
            if not count % RELEASE_EVERY:
                for columns in self._segments:
                    columns.reader.store.release()

    def verify(self) -> None:
        """Recompute the checksum of every file of this commit's segments."""
        for columns in self._segments:
            columns.reader.verify()

    def close(self) -> None:
        with self._lock:
            self._postings.clear()
