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
    from searchlib.engine.arrays import FieldArrays

__all__ = ["KEEP", "PrefixIndex", "bisect_terms"]

SHORT = 2  # prefixes up to this many bytes have precomputed tops
KEEP = 64  # most frequent terms kept per short prefix


class PrefixIndex:
    """Frequent terms by prefix over one segment field's ``FieldArrays``."""

    def __init__(self, arrays: FieldArrays) -> None:
        self.arrays = arrays
        self._short: dict[bytes, np.ndarray] | None = None  # prefix -> term indexes
        self._lock = threading.Lock()

    def document_frequency(self, index: int) -> int:
        posts = self.arrays.posts
        return int(posts[index + 1] - posts[index])

    def top(self, prefix: bytes, limit: int) -> list[tuple[bytes, int]]:
        """Up to ``limit`` (term, document frequency) starting with ``prefix``, the most
        frequent first (``limit`` at most ``KEEP`` for one- and two-byte prefixes)."""
        if not prefix or not len(self.arrays):
            return []
        if len(prefix) <= SHORT:
            chosen = self._short_tops().get(prefix, np.zeros(0, dtype=np.int64))[:limit]
        else:
            low, high = self._range(prefix)
            if low >= high:
                return []
            indexes = self.arrays.lex[low:high].astype(np.int64)
            frequency = self.arrays.posts[indexes + 1] - self.arrays.posts[indexes]
            if len(indexes) > limit:
                part = np.argpartition(-frequency, limit - 1)[:limit]
                indexes, frequency = indexes[part], frequency[part]
            chosen = indexes[np.argsort(-frequency, kind="stable")]
        return [(self.arrays.term(int(i)), self.document_frequency(int(i))) for i in chosen]

    def _range(self, prefix: bytes) -> tuple[int, int]:
        """The slice of the lexicographic order holding the terms with ``prefix``."""
        low = bisect_terms(self.arrays, prefix)
        high = len(self.arrays.lex)
        if prefix[-1] < 0xFF:
            high = bisect_terms(self.arrays, prefix[:-1] + bytes([prefix[-1] + 1]), low)
        return low, high

    def _short_tops(self) -> dict[bytes, np.ndarray]:
        with self._lock:
            if self._short is None:
                self._short = self._compute_short_tops()
            return self._short

    def _compute_short_tops(self) -> dict[bytes, np.ndarray]:
        arrays = self.arrays
        order = arrays.lex.astype(np.int64)
        starts = arrays.term_offsets[order].astype(np.int64)
        lengths = arrays.term_offsets[order + 1].astype(np.int64) - starts
        frequency = (arrays.posts[order + 1] - arrays.posts[order]).astype(np.int64)
        blob = arrays.blob  # uint8
        tops: dict[bytes, np.ndarray] = {}
        for size in range(1, SHORT + 1):
            has = lengths >= size
            where = starts[has]
            key = np.zeros(len(where), dtype=np.int64)
            for byte in range(size):
                key = (key << 8) | blob[where + byte]
            # Grouped by prefix, most frequent first within a group.
            ranked = np.lexsort((-frequency[has], key))
            keys, indexes = key[ranked], order[has][ranked]
            firsts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            ends = np.append(firsts[1:], len(keys))
            for first, end in zip(firsts.tolist(), ends.tolist(), strict=True):
                prefix = int(keys[first]).to_bytes(size, "big")
                tops[prefix] = indexes[first : min(end, first + KEEP)]
        return tops


def bisect_terms(arrays: FieldArrays, prefix: bytes, low: int = 0) -> int:
    """The first place in the lexicographic order whose term is not below ``prefix``."""
    lex = arrays.lex
    high = len(lex)
    while low < high:
        middle = (low + high) // 2
        if arrays.term(int(lex[middle])) < prefix:
            low = middle + 1
        else:
            high = middle
    return low
