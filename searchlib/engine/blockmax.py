"""Block maxima of a scored field's postings: what exact block-max pruning reads.

A scored field's postings, in the order its postings file holds them (terms by hash,
documents ascending within each), are cut into blocks of ``BLOCK_POSTINGS``; per
block the file keeps the largest term frequency and the smallest field length among
its postings (``blockmax``, ``blockmin``, and the block size, ``blocksize``). Field
weights and BM25's parameters are chosen at query time, so no score is stored: the
query layer turns the two into a bound (a BM25 score rises with the frequency and
falls with the length), as Lucene's impacts, reduced to one corner per block. Blocks
are numbered from the start of the field's postings, so no offsets are stored: the
postings ``posts[t]`` to ``posts[t + 1]`` of term ``t`` lie in blocks
``posts[t] // size`` to ``(posts[t + 1] - 1) // size``; a block shared by the end of
one term and the start of the next bounds both.

``block_corners`` computes them for postings in memory (a new segment),
``BlockAccumulator`` for postings that arrive a range at a time (a merge, a check:
``FieldArrays.check_blocks`` refuses a file whose stored corners do not bound its
postings); ``TermBlocks`` is one term's blocks over a snapshot's segments.
"""

from __future__ import annotations

import numpy as np

from searchlib.engine.packed import narrow

__all__ = [
    "BLOCK_PARTS",
    "BLOCK_POSTINGS",
    "BlockAccumulator",
    "TermBlocks",
    "block_corners",
    "block_parts",
    "block_span",
]

BLOCK_POSTINGS = 128  # postings per block (a common word's bound, 1/128 of its postings)
BLOCK_PARTS = ("blockmax", "blockmin", "blocksize")
_EMPTY = np.zeros(0, dtype=np.int64)


def block_corners(tfs: np.ndarray, lengths: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of ``size`` postings (the last may be shorter): the largest of
    ``tfs`` and the smallest of ``lengths`` (each posting's document's length)."""
    if not len(tfs):
        return _EMPTY, _EMPTY
    starts = np.arange(0, len(tfs), size)
    highest = np.maximum.reduceat(np.asarray(tfs, dtype=np.int64), starts)
    lowest = np.minimum.reduceat(np.asarray(lengths, dtype=np.int64), starts)
    return highest, lowest


def block_parts(highest: np.ndarray, lowest: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """The arrays a postings file keeps for a field's blocks."""
    return {
        "blockmax": narrow(np.asarray(highest, dtype=np.int64)),
        "blockmin": narrow(np.asarray(lowest, dtype=np.int64)),
        "blocksize": np.asarray([size], dtype=np.int64),
    }


def block_span(low: int, high: int, size: int) -> tuple[int, int]:
    """The blocks ``[first, last)`` holding postings ``low`` to ``high - 1``."""
    if high <= low:
        return 0, 0
    return low // size, (high - 1) // size + 1


class BlockAccumulator:
    """Block corners of postings fed in order a range at a time (ranges need not end
    on a block's edge: the postings past the last whole block wait for the next)."""

    def __init__(self, size: int = BLOCK_POSTINGS) -> None:
        self.size = size
        self._highest: list[np.ndarray] = []
        self._lowest: list[np.ndarray] = []
        self._tfs = _EMPTY
        self._lengths = _EMPTY

    def feed(self, tfs: np.ndarray, lengths: np.ndarray) -> None:
        tfs = np.concatenate((self._tfs, np.asarray(tfs, dtype=np.int64)))
        lengths = np.concatenate((self._lengths, np.asarray(lengths, dtype=np.int64)))
        whole = len(tfs) // self.size * self.size
        highest, lowest = block_corners(tfs[:whole], lengths[:whole], self.size)
        self._highest.append(highest)
        self._lowest.append(lowest)
        self._tfs, self._lengths = tfs[whole:], lengths[whole:]

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Every block's (largest frequency, smallest length), the last one included."""
        highest, lowest = block_corners(self._tfs, self._lengths, self.size)
        self._tfs = self._lengths = _EMPTY
        return (
            np.concatenate([*self._highest, highest]),
            np.concatenate([*self._lowest, lowest]),
        )


class TermBlocks:
    """One term's block maxima over a snapshot's segments: ``highest`` and ``lowest``
    (each block's largest frequency and smallest length, the segments' blocks one
    after another) and, by ``at``, the block of each of its postings."""

    def __init__(self, pieces: list[tuple[int, int, int, np.ndarray, np.ndarray]]) -> None:
        """``pieces``: per segment holding the term, in segment order, its postings'
        count, the place of its first posting in its first block, the block size and
        its blocks' largest frequencies and smallest lengths."""
        self.highest = np.concatenate([p[3] for p in pieces]) if pieces else _EMPTY
        self.lowest = np.concatenate([p[4] for p in pieces]) if pieces else _EMPTY
        counts = np.asarray([p[0] for p in pieces], dtype=np.int64)
        self._starts = np.concatenate(([0], np.cumsum(counts)))  # first posting per segment
        self._skips = np.asarray([p[1] for p in pieces], dtype=np.int64)
        self._sizes = np.asarray([p[2] for p in pieces], dtype=np.int64)
        blocks = np.asarray([len(p[3]) for p in pieces], dtype=np.int64)
        self._bases = np.concatenate(([0], np.cumsum(blocks)))[:-1]  # first block per segment
        self._one = len(pieces) == 1

    def at(self, postings: np.ndarray) -> np.ndarray:
        """The block (into ``highest`` and ``lowest``) of each of ``postings`` (places in
        the term's postings as ``Snapshot.postings`` concatenates them)."""
        if self._one:
            return (self._skips[0] + postings) // self._sizes[0]
        segment = np.searchsorted(self._starts, postings, side="right") - 1
        within = postings - self._starts[segment] + self._skips[segment]
        return self._bases[segment] + within // self._sizes[segment]
