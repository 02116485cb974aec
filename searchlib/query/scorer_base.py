"""The interface every scorer of ``query.scorers`` implements: a plan node bound to a
snapshot, matching from posting ids and scoring at chosen documents."""

from __future__ import annotations

import numpy as np

from searchlib.engine.arrays import member
from searchlib.query.results import TermScore

__all__ = ["Scorer"]


class Scorer:
    """A plan node bound to a snapshot: ``docs`` (what it matches), ``scores`` (at
    some of them), ``bounds`` (at least each score), ``upper_bound`` (no document
    scores more, from the index's block maxima) and ``score_range`` (no document
    could score more whatever the index held: the statistics alone set it)."""

    score_range: float = 0.0
    # Its score is 0 at a document it does not match: a caller may score any ids
    # without asking ``contains`` first (one postings search per field, not two).
    zero_elsewhere: bool = False

    @property
    def upper_bound(self) -> float:
        """No document scores more (scorers compute it when first asked: it reads
        block maxima)."""
        return self.score_range

    def docs(self) -> np.ndarray:  # pragma: no cover - every scorer overrides
        raise NotImplementedError

    def scores(self, ids: np.ndarray) -> np.ndarray:
        """Scores at ``ids``, which this scorer matches."""
        raise NotImplementedError  # pragma: no cover

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        """At least the score at each of ``ids`` (matches of this scorer), from the
        block maxima of the postings there (no frequency or length read)."""
        return np.full(len(ids), self.upper_bound)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (ascending) this scorer matches. Scorers made of others
        ask their parts, so asking about a few documents never builds the union of
        a common word's postings."""
        return member(ids, self.docs())

    @property
    def at_least(self) -> int:
        """No fewer documents match (what a lower-bound total may report)."""
        return len(self.docs())

    @property
    def at_most(self) -> int:
        """No more documents match (which clause to list first)."""
        return len(self.docs())

    def explain(self, doc: int) -> list[TermScore]:
        return []
