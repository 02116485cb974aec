"""The postings of one field of a new segment: collected per document, sorted with
numpy, written in Whoosh's W3 posting format.

Whoosh's writer handles one posting at a time (a sorting pool, then ``add_posting``,
``_write_block`` and ``add_block`` per block). Here a field's postings are gathered as
flat arrays (term id, weight, encoded value; document number, count and length per
document), ordered by term bytes and document with one stable argsort, and written a
term at a time: block deltas and block boundaries are computed for the whole field at
once, each posting list is one ``write`` call. The data are those W3's writer makes
(same block tuples and term infos; pickled with a newer protocol, see
``PICKLE_PROTOCOL``), so any Whoosh reader reads them.
"""

from __future__ import annotations

import itertools
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pickle import dumps
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import byte_to_length

from searchlib.engine import whoosh_adapter
from searchlib.engine.arrays import SegmentFileWriter, concat_ranges

__all__ = ["FieldPostings", "ScoredPostings", "SortedPostings", "write_postings"]

# Posting lists this short are stored inline in the term dictionary (a format Whoosh's
# reader supports; its own writer never uses it) instead of in a block of their own.
INLINE_LIMIT = 4

_TERM_INFO = whoosh_adapter.TERM_INFO.pack

# W3's writer pickles with protocol 2, which spells every bytes value as a call to
# codecs.encode; protocol 4 has bytes opcodes: 8x faster to write, 40% smaller, and
# Whoosh's reader (pickle.loads) reads any protocol.
PICKLE_PROTOCOL = 4


@dataclass
class SortedPostings:
    """One field's postings grouped by term (in byte order), documents ascending:
    term ``terms[i]`` owns the postings ``starts[i]:starts[i + 1]``."""

    terms: list[bytes]
    starts: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int64 document numbers
    weights: np.ndarray  # float32, as Whoosh stores them
    lengths: np.ndarray  # int64: the field length of each posting's document
    values: list[bytes]  # the format's encoded value of each posting

    def iter_postings(self, name: str) -> Iterator[tuple]:
        """``(field, term, docnum, weight, value, length)`` in order (for merging)."""
        docs, weights, lengths = self.docs.tolist(), self.weights.tolist(), self.lengths.tolist()
        starts = self.starts.tolist()
        for index, term in enumerate(self.terms):
            for at in range(starts[index], starts[index + 1]):
                yield name, term, docs[at], weights[at], self.values[at], lengths[at]


class FieldPostings:
    """Postings of one field, appended document by document (documents ascending)."""

    def __init__(self) -> None:
        # Term -> id. Ids come from a counter that advances for every posting (so
        # ``map(setdefault, terms, counter)`` assigns them without a Python loop); they
        # are made dense when the postings are sorted.
        self._ids: dict[str, int] = {}
        self._counter = itertools.count()
        self._term_ids = array("q")  # one per posting
        self._weights = array("d")
        self._values: list[bytes] = []
        self._doc_numbers = array("q")
        self._doc_counts = array("q")
        self._doc_lengths = array("q")

    def add(
        self,
        docnum: int,
        terms: Iterable[str],
        weights: Sequence[float],
        values: Sequence[bytes],
        length: int,
    ) -> None:
        """One document's postings: parallel sequences, one entry per distinct term."""
        found = list(map(self._ids.setdefault, terms, self._counter))
        if not len(found) == len(weights) == len(values):
            raise ValueError("terms, weights and values must have one entry per term")
        if found:
            self._term_ids.extend(found)
            self._weights.extend(weights)
            self._values.extend(values)
            self._doc_numbers.append(docnum)
            self._doc_counts.append(len(found))
            self._doc_lengths.append(length)

    def drop_document(self, docnum: int) -> None:
        """Forget the postings of ``docnum`` if it is the last document added."""
        if self._doc_numbers and self._doc_numbers[-1] == docnum:
            keep = len(self._term_ids) - self._doc_counts.pop()
            self._doc_numbers.pop()
            self._doc_lengths.pop()
            del self._term_ids[keep:]
            del self._weights[keep:]
            del self._values[keep:]

    def sort(self) -> SortedPostings:
        keys = list(self._ids)
        encoded = [key.encode("utf-8", "surrogateescape") for key in keys]
        sparse_ids = np.fromiter(self._ids.values(), dtype=np.int64, count=len(keys))
        dense = np.zeros(int(sparse_ids.max(initial=-1)) + 1, dtype=np.int64)
        dense[sparse_ids] = np.arange(len(keys), dtype=np.int64)
        term_ids = dense[np.frombuffer(self._term_ids, dtype=np.int64)]
        per_term = np.bincount(term_ids, minlength=len(keys))
        # Terms left without postings (by drop_document) are not written.
        order = sorted(np.flatnonzero(per_term).tolist(), key=encoded.__getitem__)
        rank = np.full(len(keys), len(keys), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        # Stable: postings were appended in document order, so they stay in it per term.
        perm = np.argsort(rank[term_ids], kind="stable")
        counts = np.frombuffer(self._doc_counts, dtype=np.int64)
        docs = np.repeat(np.frombuffer(self._doc_numbers, dtype=np.int64), counts)
        lengths = np.repeat(np.frombuffer(self._doc_lengths, dtype=np.int64), counts)
        starts = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(per_term[order], out=starts[1:])
        weights = np.frombuffer(self._weights, dtype=np.float64)[perm].astype(np.float32)
        values = self._values
        return SortedPostings(
            terms=[encoded[i] for i in order],
            starts=starts,
            docs=docs[perm],
            weights=weights,
            lengths=lengths[perm],
            values=[values[i] for i in perm.tolist()],
        )


class ScoredPostings:
    """Postings of one scored field (frequencies and, if ``positional``, positions),
    appended document by document for the segment's postings file."""

    def __init__(self, positional: bool) -> None:
        self.positional = positional
        self._ids: dict[str, int] = {}
        self._counter = itertools.count()
        self._term_ids = array("q")
        self._tfs = array("q")
        self._positions = array("q")
        self._doc_numbers = array("q")
        self._doc_counts = array("q")

    def add(self, docnum: int, found: dict[str, list[int]]) -> None:
        """One document's terms, each with its positions (``tf`` = how many)."""
        if not found:
            return
        self._term_ids.extend(map(self._ids.setdefault, found, self._counter))
        lists = list(found.values())
        self._tfs.extend(map(len, lists))
        if self.positional:
            self._positions.extend(itertools.chain.from_iterable(lists))
        self._doc_numbers.append(docnum)
        self._doc_counts.append(len(lists))

    def drop_document(self, docnum: int) -> None:
        """Forget the postings of ``docnum`` if it is the last document added."""
        if self._doc_numbers and self._doc_numbers[-1] == docnum:
            keep = len(self._term_ids) - self._doc_counts.pop()
            self._doc_numbers.pop()
            if self.positional:
                del self._positions[len(self._positions) - sum(self._tfs[keep:]) :]
            del self._term_ids[keep:]
            del self._tfs[keep:]

    def write(self, writer: SegmentFileWriter, name: str) -> None:
        """Write these postings as field ``name`` of a postings file."""
        keys = list(self._ids)
        sparse_ids = np.fromiter(self._ids.values(), dtype=np.int64, count=len(keys))
        dense = np.zeros(int(sparse_ids.max(initial=-1)) + 1, dtype=np.int64)
        dense[sparse_ids] = np.arange(len(keys), dtype=np.int64)
        term_ids = dense[np.frombuffer(self._term_ids, dtype=np.int64)]
        per_term = np.bincount(term_ids, minlength=len(keys))
        # Stable: postings were appended in document order, so they stay in it per term.
        perm = np.argsort(term_ids, kind="stable")
        starts = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(per_term, out=starts[1:])
        counts = np.frombuffer(self._doc_counts, dtype=np.int64)
        docs = np.repeat(np.frombuffer(self._doc_numbers, dtype=np.int64), counts)
        tfs = np.frombuffer(self._tfs, dtype=np.int64)
        positions = None
        if self.positional:
            first = np.zeros(len(tfs) + 1, dtype=np.int64)
            np.cumsum(tfs, out=first[1:])
            positions = np.frombuffer(self._positions, dtype=np.int64)[
                concat_ranges(first[:-1][perm], tfs[perm])
            ]
        # Terms left without postings (by drop_document) are not written.
        kept = np.flatnonzero(per_term)
        if len(kept) < len(keys):
            starts = np.concatenate(([0], np.cumsum(per_term[kept])))
        encoded = [keys[i].encode("utf-8", "surrogateescape") for i in kept.tolist()]
        writer.add_field(name, encoded, starts, docs[perm], tfs[perm], positions)


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    """Whoosh's ``length_to_byte`` for an array (0 stays 0: "no length")."""
    return np.minimum(np.searchsorted(_LENGTH_TABLE, lengths, side="left"), 255)


_LENGTH_TABLE = np.array([byte_to_length(n) for n in range(256)], dtype=np.int64)
_NO_LENGTH = np.iinfo(np.int64).max


def _run_stats(starts: np.ndarray, weights: np.ndarray, lengths: np.ndarray) -> tuple:
    """Per run of postings (a term or a block) what W3 keeps about it: total and
    largest weight, shortest and longest non-zero field length (as bytes)."""
    firsts = starts[:-1]
    total = np.add.reduceat(weights.astype(np.float64), firsts)
    largest = np.maximum(np.maximum.reduceat(weights, firsts), 0)
    shortest = np.minimum.reduceat(np.where(lengths > 0, lengths, _NO_LENGTH), firsts)
    shortest = np.where(shortest == _NO_LENGTH, 0, _length_bytes(shortest))
    longest = _length_bytes(np.maximum.reduceat(lengths, firsts))
    return total, largest, shortest, longest


def write_postings(fieldwriter: Any, name: str, field: Any, postings: SortedPostings) -> None:
    """Write a field's sorted postings with a W3 field writer, as W3's writer would."""
    fieldwriter.start_field(name, field)
    parts = whoosh_adapter.field_writer_parts(fieldwriter)
    limit, compression = parts.block_limit, parts.compression
    fixed_size = field.format.fixed_value_size()
    prefix = pack_ushort(parts.field_id)
    if not postings.terms:
        fieldwriter.finish_field()
        return

    starts, docs, weights, lengths = (
        postings.starts,
        postings.docs,
        postings.weights,
        postings.lengths,
    )
    counts = np.diff(starts)
    # Blocks: runs of at most `limit` postings of one term; ids are delta-coded
    # within a block, from 0 at the block's first posting.
    within = np.arange(len(docs), dtype=np.int64) - np.repeat(starts[:-1], counts)
    block_starts = np.flatnonzero(within % limit == 0)
    deltas = np.diff(docs, prepend=0)
    deltas[block_starts] = docs[block_starts]
    block_bounds = np.append(block_starts, len(docs))
    _, block_high, block_short, block_long = _run_stats(block_bounds, weights, lengths)
    block_low = np.minimum.reduceat(weights, block_starts)
    term_total, term_high, term_short, term_long = _run_stats(starts, weights, lengths)
    # The first block of each term, so a term's blocks are blocks[first:first_next].
    term_first_block = np.searchsorted(block_starts, starts[:-1])

    delta_list = deltas.tolist()
    doc_list = docs.tolist()
    weight_list = weights.tolist()
    values = postings.values
    start_list = starts.tolist()
    bounds = block_bounds.tolist()
    block_info = list(
        zip(
            block_low.tolist(),
            block_high.tolist(),
            block_short.tolist(),
            block_long.tolist(),
            strict=True,
        )
    )
    term_info = list(
        zip(
            term_total.tolist(),
            term_short.tolist(),
            term_long.tolist(),
            term_high.tolist(),
            term_first_block.tolist(),
            strict=True,
        )
    )
    postfile = parts.postings_file
    offset = postfile.tell()
    chunks: list[bytes] = []
    keys: list[bytes] = []
    infos: list[bytes] = []
    for index, term in enumerate(postings.terms):
        start, end = start_list[index], start_list[index + 1]
        total, short, long_, high, first_block = term_info[index]
        head = _TERM_INFO(
            end - start <= INLINE_LIMIT, total, end - start, short, long_, high,
            doc_list[start], doc_list[end - 1],
        )  # fmt: skip
        keys.append(prefix + term)
        if end - start <= INLINE_LIMIT:
            # Every value is kept, empty ones too: a merge reads them back as bytes.
            inline = (
                tuple(doc_list[start:end]),
                tuple(weight_list[start:end]),
                tuple(values[start:end]),
            )
            infos.append(head + dumps(inline, PICKLE_PROTOCOL))
            continue
        size = len(WHOOSH3_HEADER_MAGIC)
        chunks.append(WHOOSH3_HEADER_MAGIC)
        block = first_block
        while bounds[block] < end:
            low_at, high_at = bounds[block], bounds[block + 1]
            low, high, short, long_ = block_info[block]
            block += 1
            if low == high == 1.0:
                mini_weights: Any = None
            elif low == high:
                mini_weights = low
            else:
                mini_weights = tuple(weight_list[low_at:high_at])
            block_values = values[low_at:high_at]
            if fixed_size is None or fixed_size < 0:
                if not all(block_values):  # W3 keeps only non-empty values
                    block_values = [v for v in block_values if v]
                mini_values: Any = tuple(block_values)
            elif fixed_size == 0:
                mini_values = None
            else:
                mini_values = b"".join(block_values)
            data = dumps(
                (tuple(delta_list[low_at:high_at]), mini_weights, mini_values), PICKLE_PROTOCOL
            )
            if compression:
                data = zlib.compress(data, compression)
            stats = dumps(
                (high_at - low_at, doc_list[high_at - 1], high, compression, short, long_),
                PICKLE_PROTOCOL,
            )
            length = len(stats) + len(data)
            chunks += (pack_int(-length if high_at == end else length), stats, data)
            size += 4 + length
        infos.append(head + pack_long(offset) + pack_int(size))
        offset += size
    postfile.write(b"".join(chunks))
    whoosh_adapter.add_terms(parts.term_index, keys, infos)
    fieldwriter.finish_field()
