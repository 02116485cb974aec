"""Score bounds from block maxima: what exact block-max pruning compares.

Each block of a scored field's postings keeps its largest frequency and smallest
length (``engine.blockmax``). BM25 rises with the frequency and falls with the
length, so a block's corner scores at least as much as any of its postings: the
bound of a document is its blocks' corners scored (``CombinedPostings.bounds``).
A term's bound over all its documents is the best score of its fields' corners
combined as BM25F combines fields (``term_frontier``): within one text field a word
and its exact twin add their weighted frequencies and share the field's length;
across fields frequencies and weighted lengths add up; a field may be absent. Only
the Pareto frontier of (frequency, length) points is kept at each step (a point
with a lower frequency and a greater length than another never scores more), and a
frontier past ``MAX_POINTS`` is coarsened into corners of neighbouring points, which
still bound them.
"""

from __future__ import annotations

import numpy as np

from searchlib.query.ranking import bm25_term_scores

__all__ = ["MAX_POINTS", "Points", "best_score", "pareto", "term_frontier"]

MAX_POINTS = 48  # frontier points kept per step (a cross product is their square)

# (weighted frequencies, lengths): points of a frontier, parallel arrays.
Points = tuple[np.ndarray, np.ndarray]
_ABSENT: Points = (np.zeros(1), np.zeros(1))


def pareto(tf: np.ndarray, length: np.ndarray) -> Points:
    """The points no other point dominates (as high a frequency, as low a length),
    by ascending length (and so ascending frequency)."""
    tf = np.asarray(tf, dtype=np.float64)
    length = np.asarray(length, dtype=np.float64)
    if len(tf) <= 1:
        return tf, length
    order = np.lexsort((-tf, length))
    tf, length = tf[order], length[order]
    best_before = np.maximum.accumulate(tf)
    keep = np.concatenate(([True], tf[1:] > best_before[:-1]))
    return tf[keep], length[keep]


def _coarsen(points: Points, limit: int = MAX_POINTS) -> Points:
    """At most ``limit`` points bounding ``points`` (a frontier): neighbours grouped,
    each group replaced by its corner (its largest frequency, smallest length)."""
    tf, length = points
    if len(tf) <= limit:
        return points
    starts = np.linspace(0, len(tf), limit, endpoint=False).astype(np.int64)
    return np.maximum.reduceat(tf, starts), np.minimum.reduceat(length, starts)


def _cross(first: Points, second: Points, *, share_length: bool) -> Points:
    """Every pairing of a point of each (either may be absent: (0, 0)), frequencies
    added; lengths added, or the larger kept when both count one field's length."""
    a = _coarsen(_with_absent(first))
    b = _coarsen(_with_absent(second))
    tf = (a[0][:, None] + b[0][None, :]).ravel()
    if share_length:
        length = np.maximum(a[1][:, None], b[1][None, :]).ravel()
    else:
        length = (a[1][:, None] + b[1][None, :]).ravel()
    return pareto(tf, length)


def _with_absent(points: Points) -> Points:
    return np.concatenate((_ABSENT[0], points[0])), np.concatenate((_ABSENT[1], points[1]))


def term_frontier(fields: list[tuple[float, list[Points]]]) -> Points:
    """The frontier of a BM25F term's (weighted frequency, weighted length) over every
    document: ``fields`` lists per text field its length weight and the frontier of
    each of its postings lists, frequencies already weighted."""
    total: Points = (np.zeros(0), np.zeros(0))
    for length_weight, lists in fields:
        field: Points = (np.zeros(0), np.zeros(0))
        for points in lists:
            field = _cross(field, points, share_length=True)
        field = (field[0], field[1] * length_weight)
        total = _cross(total, field, share_length=False)
    tf, length = total
    present = tf > 0
    return tf[present], length[present]


def best_score(points: Points, avg_length: float, idf: float, k1: float, b: float) -> float:
    """The highest BM25 among ``points`` (0 without any)."""
    tf, length = points
    if not len(tf):
        return 0.0
    return float(bm25_term_scores(tf, length, avg_length, idf, k1, b).max())
