"""Block maxima of a scored field's postings: what block-max pruning bounds scores by.

A term with more than ``BLOCK`` postings in a segment has them cut into blocks of
``BLOCK`` (its last block may be shorter). Per block the postings file keeps the last
document (``blast``), the largest term frequency (``btf``) and, for each text field,
the smallest length among the block's documents (``bmin_title``, ``bmin_body``).
Field weights and BM25's k1 and b are chosen at query time, so the bound itself is
computed then (``query.scorers``): BM25F grows with frequency and falls with length,
so a block's frequency maximum and length minima bound every document in it (the
block maxima tantivy and Lucene keep, in a form that suits weights chosen later).
``bterms`` names the terms that have blocks (ascending) and ``bstart`` where each
one's blocks start. A term with ``BLOCK`` postings or fewer has one block, made at
query time from its postings (cheap: they are few).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from searchlib.engine.arrays import FieldArrays, concat_ranges, narrow_unsigned
from searchlib.errors import IndexCorruptError

__all__ = ["BLOCK", "TermBlocks", "block_parts", "finish_blocks", "term_blocks"]

BLOCK = 128  # postings per block
MIN_PREFIX = "bmin_"  # + a text field's name: its length minima per block


@dataclass(frozen=True)
class TermBlocks:
    """One term's blocks in one field: the last document of each (ascending), the
    largest frequency in it, and per text field the smallest length in it."""

    last: np.ndarray
    tf: np.ndarray
    min_lengths: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.last)

    @classmethod
    def join(cls, parts: list[TermBlocks], names: list[str]) -> TermBlocks:
        """The blocks of several segments, in document order (global numbers)."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, {name: empty for name in names})
        return cls(
            np.concatenate([p.last for p in parts]),
            np.concatenate([p.tf for p in parts]),
            {name: np.concatenate([p.min_lengths[name] for p in parts]) for name in names},
        )


def block_parts(
    posts: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    lengths: Mapping[str, np.ndarray],
    term_base: int = 0,
) -> dict[str, np.ndarray]:
    """The blocks of the terms with more than ``BLOCK`` postings: term ``i`` owns
    ``docs[posts[i]:posts[i+1]]`` (ascending) and their ``tfs``; ``lengths`` are the
    segment's per-document lengths by text field. ``bterms`` are numbered from
    ``term_base``; ``bcount`` is each one's number of blocks (``finish_blocks`` turns
    it into offsets)."""
    posts = np.asarray(posts, dtype=np.int64)
    counts = np.diff(posts)
    big = np.flatnonzero(counts > BLOCK)
    blocks = (counts[big] + BLOCK - 1) // BLOCK
    block_start = np.zeros(len(big) + 1, dtype=np.int64)
    np.cumsum(blocks, out=block_start[1:])
    chosen = concat_ranges(posts[:-1][big], counts[big])  # the postings of those terms
    term_start = np.zeros(len(big) + 1, dtype=np.int64)
    np.cumsum(counts[big], out=term_start[1:])
    rank = np.arange(int(block_start[-1]), dtype=np.int64) - np.repeat(block_start[:-1], blocks)
    begins = np.repeat(term_start[:-1], blocks) + rank * BLOCK
    ends = np.minimum(begins + BLOCK, np.repeat(term_start[1:], blocks))
    chosen_docs = np.asarray(docs)[chosen]
    parts = {
        "bterms": (big + term_base).astype(np.int32),
        "bcount": blocks,
        "blast": chosen_docs[ends - 1].astype(np.int32),
        "btf": _reduce(np.maximum, np.asarray(tfs)[chosen], begins, np.uint32),
    }
    for name, column in lengths.items():
        values = np.asarray(column)[chosen_docs]
        parts[f"{MIN_PREFIX}{name}"] = _reduce(np.minimum, values, begins, np.uint32)
    return parts


def _reduce(op: np.ufunc, values: np.ndarray, begins: np.ndarray, kind: type) -> np.ndarray:
    if not len(begins):
        return np.zeros(0, dtype=kind)
    return op.reduceat(values, begins).astype(kind)


def finish_blocks(parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Block parts as the postings file keeps them: ``bstart`` offsets in place of
    ``bcount``, frequencies and lengths in their narrowest type."""
    out = dict(parts)
    counts = out.pop("bcount")
    start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    out["bstart"] = start
    for name, values in parts.items():
        if name == "btf" or name.startswith(MIN_PREFIX):
            out[name] = narrow_unsigned(values)
    return out


def term_blocks(
    field: FieldArrays, index: int, lengths: Mapping[str, np.ndarray], offset: int = 0
) -> TermBlocks:
    """Term ``index``'s blocks in one segment's ``field``, documents numbered from
    ``offset``: the stored ones, or one made from its postings when it has few
    (``lengths``: per-document lengths by text field, global numbers)."""
    extra = field.extra
    names = list(lengths)
    terms = extra.get("bterms")
    if terms is not None and len(terms):
        at = int(np.searchsorted(terms, index))
        if at < len(terms) and int(terms[at]) == index:
            return _stored(field, at, names, offset)
    docs, tfs = field.postings(index)
    if not len(docs):
        return TermBlocks.join([], names)
    docs = docs.astype(np.int64) + offset
    return TermBlocks(
        docs[-1:],
        tfs.max(keepdims=True).astype(np.int64),
        {name: lengths[name][docs].min(keepdims=True) for name in names},
    )


def _stored(field: FieldArrays, at: int, names: list[str], offset: int) -> TermBlocks:
    extra = field.extra
    try:
        start, last, tf = extra["bstart"], extra["blast"], extra["btf"]
        minima = {name: extra[f"{MIN_PREFIX}{name}"] for name in names}
    except KeyError as exc:
        raise IndexCorruptError(f"{field.where} is damaged: block part {exc} is missing") from exc
    if at + 1 >= len(start):
        raise IndexCorruptError(f"{field.where} is damaged: the block offsets are short")
    low, high = int(start[at]), int(start[at + 1])
    if not 0 <= low < high <= min(len(last), len(tf), *(len(m) for m in minima.values())):
        raise IndexCorruptError(f"{field.where} is damaged: blocks lie outside the file")
    return TermBlocks(
        last[low:high].astype(np.int64) + offset,
        tf[low:high].astype(np.int64),
        {name: values[low:high] for name, values in minima.items()},
    )
