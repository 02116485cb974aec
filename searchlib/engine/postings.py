"""Collecting a scored field's postings for a new segment's postings file.

``ScoredPostings`` takes a document's terms (each with its positions) as the analysis
made them, appending to flat arrays; ``write`` groups them by term with one stable
argsort (documents stay ascending per term) and hands them to the postings file
(``engine.arrays``), which orders terms by hash.
"""

from __future__ import annotations

import itertools
from array import array

import numpy as np

from searchlib.engine.arrayfile import ArrayFileWriter
from searchlib.engine.arrays import concat_ranges, write_field

__all__ = ["ScoredPostings"]


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

    def write(self, writer: ArrayFileWriter, name: str, lengths: np.ndarray | None = None) -> None:
        """Write these postings as field ``name`` of a postings file; ``lengths`` (each
        document's length in a scored field) writes the field's block maxima too."""
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
        write_field(writer, name, encoded, starts, docs[perm], tfs[perm], positions, lengths)
