"""The most frequent terms of a segment's field that start with a prefix, without a scan
of its vocabulary (what search-as-you-type completes a word from).

A postings file keeps each field's terms in hash order and, beside it, their
lexicographic order (``lex``). Terms with a prefix are one range of that order, found
by binary search. The range of a prefix of three bytes or more is small (a few hundred
terms at a million words), so its most frequent terms are picked with numpy; the ranges
of one- and two-byte prefixes can hold a hundred thousand terms, so their most frequent
terms are computed once per segment, the first time one is asked for, for every such
prefix at once (vectorized), and kept with the segment (segments are immutable and
shared by every snapshot that holds them).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from searchlib.engine.arrays_read import FieldArrays

__all__ = ["KEEP", "PrefixIndex", "bisect_terms"]

SHORT = 2  # prefixes up to this many bytes have precomputed tops
KEEP = 64  # most frequent terms kept per short prefix


class PrefixIndex:
    """Frequent terms by prefix over one segment field's ``FieldArrays``."""

    def __init__(self, arrays: FieldArrays) -> None:
        self.arrays = arrays
        self._short: dict[bytes, np.ndarray] | None = None  # prefix -> term indexes
        self._heads: np.ndarray | None = None  # each term's first 8 bytes, in lex order
        self._lock = threading.Lock()

    def top_indexes(self, prefix: bytes, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``limit`` term numbers starting with ``prefix`` and their document
        frequencies, the most frequent first (``limit`` at most ``KEEP`` for one- and
        two-byte prefixes); nothing is decoded."""
        arrays = self.arrays
        if not prefix or not len(arrays):
            return _NONE, _NONE
        if len(prefix) <= SHORT:
            chosen = self._tables()[0].get(prefix, _NONE)[:limit]
        else:
            low, high = self._range(prefix)
            if low >= high:
                return _NONE, _NONE
            chosen = arrays.lex_terms(low, high)
            frequency = arrays.doc_frequencies(chosen)
            if len(chosen) > limit:
                part = np.argpartition(-frequency, limit - 1)[:limit]
                chosen, frequency = chosen[part], frequency[part]
            chosen = chosen[np.argsort(-frequency, kind="stable")]
        return chosen, arrays.doc_frequencies(chosen)

    def top(self, prefix: bytes, limit: int) -> list[tuple[bytes, int]]:
        """``top_indexes`` as (term, document frequency) pairs."""
        chosen, frequency = self.top_indexes(prefix, limit)
        terms = [self.arrays.term(i) for i in chosen.tolist()]
        return list(zip(terms, frequency.tolist(), strict=True))

    def _range(self, prefix: bytes) -> tuple[int, int]:
        """The slice of the lexicographic order holding the terms with ``prefix``: by
        the terms' first eight bytes as numbers (one search each way), then, for a
        longer prefix, a binary search of the terms inside that slice."""
        heads = self._tables()[1]
        head = prefix[:8]
        low_key = int.from_bytes(head.ljust(8, b"\0"), "big")
        high_key = int.from_bytes(head.ljust(8, b"\xff"), "big")
        low = int(np.searchsorted(heads, np.uint64(low_key), side="left"))
        high = int(np.searchsorted(heads, np.uint64(high_key), side="right"))
        if len(prefix) > 8 and low < high:
            low = bisect_terms(self.arrays, prefix, low, high)
            if prefix[-1] < 0xFF:
                high = bisect_terms(self.arrays, prefix[:-1] + bytes([prefix[-1] + 1]), low, high)
        return low, high

    def prepare(self) -> None:
        """Compute the tables now rather than on the first short prefix asked for."""
        if len(self.arrays):
            self._tables()

    def _tables(self) -> tuple[dict[bytes, np.ndarray], np.ndarray]:
        with self._lock:
            if self._short is None or self._heads is None:
                self._short, self._heads = self._compute()
            return self._short, self._heads

    def _compute(self) -> tuple[dict[bytes, np.ndarray], np.ndarray]:
        """Once per segment field, vectorized: every term's first eight bytes (in lex
        order, as big-endian numbers padded with zeros), and the most frequent terms of
        every one- and two-byte prefix."""
        arrays = self.arrays
        order = arrays.lex_terms()
        starts = arrays.term_offsets[order].astype(np.int64)
        lengths = arrays.term_offsets[order + 1].astype(np.int64) - starts
        frequency = arrays.doc_frequencies(order)
        blob = arrays.blob  # uint8
        heads = np.zeros(len(order), dtype=np.uint64)
        for byte in range(8):
            has = lengths > byte
            value = np.zeros(len(order), dtype=np.uint64)
            value[has] = blob[starts[has] + byte]
            heads = (heads << np.uint64(8)) | value
        tops: dict[bytes, np.ndarray] = {}
        for size in range(1, SHORT + 1):
            has = lengths >= size
            key = (heads[has] >> np.uint64(8 * (8 - size))).astype(np.int64)
            # Grouped by prefix (already in order), most frequent first in a group.
            ranked = np.lexsort((-frequency[has], key))
            keys, indexes = key[ranked], order[has][ranked]
            firsts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            ends = np.append(firsts[1:], len(keys))
            for first, end in zip(firsts.tolist(), ends.tolist(), strict=True):
                prefix = int(keys[first]).to_bytes(size, "big")
                tops[prefix] = indexes[first : min(end, first + KEEP)]
        return tops, heads


_NONE = np.zeros(0, dtype=np.int64)


def bisect_terms(arrays: FieldArrays, prefix: bytes, low: int = 0, high: int | None = None) -> int:
    """The first place in ``lex[low:high]`` whose term is not below ``prefix``."""
    lex = arrays.lex
    high = len(lex) if high is None else high
    while low < high:
        middle = (low + high) // 2
        if arrays.term(int(lex[middle])) < prefix:
            low = middle + 1
        else:
            high = middle
    return low
