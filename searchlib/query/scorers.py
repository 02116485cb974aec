"""Plan nodes bound to a snapshot: scorers that match and score sparsely.

Every plan node becomes a scorer with two steps: ``docs()``, the sorted live document
numbers it matches, found from posting ids alone; and ``scores(ids)``, its BM25F at
some of those documents, each term's postings looked up by binary search (or, for a
common word asked about often, spread over an array by document). Beside them,
``contains(ids)``: which of some documents it matches, asked of its parts, so a
clause of rare words can be checked against one of common words without building
the common words' union (and a phrase reads positions only in the documents asked
about); and ``bounds(ids)``: an upper bound of each score from which clauses a
document matches (their upper bounds added up), from posting ids alone. Nothing is sized by
the number of articles except a filter-only query (which matches by columns).
``execute`` decides which documents are worth scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cached_property

import numpy as np

from searchlib.engine import MISSING_DATE, Snapshot
from searchlib.engine.arrays import member
from searchlib.query.idsets import intersect, union
from searchlib.query.phrase_scorer import PhraseScorer
from searchlib.query.plan import (
    AnyOfPlan,
    BoolPlan,
    Filter,
    PhrasePlan,
    PlanNode,
    TermsPlan,
)
from searchlib.query.results import TermScore
from searchlib.query.scorer_base import Scorer
from searchlib.query.term_scoring import ScoringContext

__all__ = ["AnyOfScorer", "BoolScorer", "Scorer", "passes", "scorer"]

_EMPTY = np.zeros(0, dtype=np.int64)


class _UnionScorer(Scorer):
    """A scorer matching wherever one of its parts does (each part answering
    ``docs``, ``contains``, ``at_least`` and ``at_most``): the union is built only
    when ``docs`` is asked for."""

    def __init__(self, parts: list, size: int) -> None:
        self._parts = parts
        self.size = size
        self._docs: np.ndarray | None = None

    def docs(self) -> np.ndarray:
        if self._docs is None:
            self._docs = union([part.docs() for part in self._parts], self.size)
        return self._docs

    def contains(self, ids: np.ndarray) -> np.ndarray:
        if self._docs is not None:
            return member(ids, self._docs)
        found = np.zeros(len(ids), dtype=bool)
        for part in self._parts:
            found |= part.contains(ids)
        return found

    @property
    def at_least(self) -> int:
        return max((part.at_least for part in self._parts), default=0)

    @property
    def at_most(self) -> int:
        return sum(part.at_most for part in self._parts)


class _TermsScorer(_UnionScorer):
    zero_elsewhere = True  # a document without the words has no frequency to score

    def __init__(self, context: ScoringContext, plan: TermsPlan) -> None:
        self.terms = [context.combined(term) for term in plan.terms]
        super().__init__(self.terms, context.snapshot.max_doc)
        self.score_range = sum(t.score_range for t in self.terms)

    @cached_property
    def upper_bound(self) -> float:
        return sum(t.upper_bound for t in self.terms)

    def scores(self, ids: np.ndarray) -> np.ndarray:
        total = np.zeros(len(ids), dtype=np.float64)
        for term in self.terms:
            total += term.scores(ids)
        return total

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        total = np.zeros(len(ids), dtype=np.float64)
        for term in self.terms:
            total += term.bounds(ids)
        return total

    def explain(self, doc: int) -> list[TermScore]:
        found = (t.explain(doc) for t in self.terms)
        return [c for c in found if c is not None]


class BoolScorer(Scorer):
    def __init__(self, context: ScoringContext, plan: BoolPlan) -> None:
        self.snapshot = context.snapshot
        self.must = [scorer(context, node) for node in plan.must]
        self.should = [scorer(context, node) for node in plan.should]
        self.must_not = [scorer(context, node) for node in plan.must_not]
        self.filters = plan.filters
        self.score_range = sum(s.score_range for s in (*self.must, *self.should))
        self.zero_elsewhere = bool(
            self.should
            and not (self.must or self.filters or self.must_not)
            and all(child.zero_elsewhere for child in self.should)
        )
        self._docs: np.ndarray | None = None

    def docs(self) -> np.ndarray:
        if self._docs is not None:
            return self._docs
        size = self.snapshot.max_doc
        if self.must:
            ids = intersect([s.docs() for s in self.must])
        elif self.should:
            ids = union([s.docs() for s in self.should], size)
        else:  # only filters or exclusions: everything else matches
            ids = np.flatnonzero(self.snapshot.live).astype(np.int64, copy=False)
        for restriction in self.filters:
            ids = ids[passes(self.snapshot, restriction, ids)]
        if self.must_not and len(ids):
            ids = ids[~member(ids, union([s.docs() for s in self.must_not], size))]
        self._docs = ids
        return ids

    @cached_property
    def upper_bound(self) -> float:
        return sum(s.upper_bound for s in (*self.must, *self.should))

    def contains(self, ids: np.ndarray) -> np.ndarray:
        if self._docs is not None:
            return member(ids, self._docs)
        if self.must:
            found = np.ones(len(ids), dtype=bool)
            for child in sorted(self.must, key=lambda c: c.at_most):
                left = np.flatnonzero(found)
                if not len(left):
                    break
                found[left] = child.contains(ids[left])
        elif self.should:
            found = np.zeros(len(ids), dtype=bool)
            for child in self.should:
                found |= child.contains(ids)
        else:
            found = self.snapshot.live[ids].astype(bool)
        for restriction in self.filters:
            found &= passes(self.snapshot, restriction, ids)
        for child in self.must_not:
            found &= ~child.contains(ids)
        return found

    @property
    def at_least(self) -> int:
        if self.must or self.filters or self.must_not or not self.should:
            return len(self.docs())
        return max(child.at_least for child in self.should)

    @property
    def at_most(self) -> int:
        if self._docs is not None or not (self.must or self.should):
            return len(self.docs())
        if self.must:
            return min(child.at_most for child in self.must)
        return sum(child.at_most for child in self.should)

    def scores(self, ids: np.ndarray) -> np.ndarray:
        return self._summed(ids, lambda child, at: child.scores(at), scoring=True)

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        if len(self.should) == 1 and not self.must:
            return self.should[0].bounds(ids)  # every match matches its one clause
        return self._summed(ids, lambda child, at: child.bounds(at))

    def _summed(
        self,
        ids: np.ndarray,
        part: Callable[[Scorer, np.ndarray], np.ndarray],
        *,
        scoring: bool = False,
    ) -> np.ndarray:
        """``part`` (scores or bounds) of every must clause and of each should clause
        where it matches, added up at ``ids`` (``scoring``: ``part`` is the scores,
        0 where a ``zero_elsewhere`` clause does not match)."""
        total = np.zeros(len(ids), dtype=np.float64)
        for child in self.must:
            total += part(child, ids)
        for child in self.should:
            if child.zero_elsewhere and scoring:
                total += part(child, ids)
                continue
            inside = child.contains(ids)
            if inside.any():
                total[inside] += part(child, ids[inside])
        return total

    def matched(self, ids: np.ndarray) -> np.ndarray:
        """How many of the scoring clauses each of ``ids`` matches (``ids`` are
        matches of this scorer)."""
        count = np.full(len(ids), len(self.must), dtype=np.int32)
        sizes = [len(child.docs()) for child in self.should]
        if len(ids) * 16 > self.snapshot.max_doc and sum(sizes) * 4 > len(ids):
            # Many matches: count on a bitmap-sized tally instead of searching each.
            tally = np.zeros(self.snapshot.max_doc, dtype=np.int16)
            for child in self.should:
                tally[child.docs()] += 1
            return count + tally[ids]
        for child in self.should:
            count += member(ids, child.docs())
        return count

    def explain(self, doc: int) -> list[TermScore]:
        single = np.array([doc], dtype=np.int64)
        out = []
        for child in (*self.must, *self.should):
            if child.contains(single)[0]:
                out.extend(child.explain(doc))
        return out


class AnyOfScorer(_UnionScorer):
    """The first alternative (the words as typed) or another way to match them (a
    synonym's entries), scoring the best: a disjunction max whose other alternatives
    are scaled into the first's range (by the ratio of their score ranges, which
    depend on the statistics alone, not on how the index is cut into blocks), so an
    entry of three words never outscores the one word typed just by being longer."""

    def __init__(self, context: ScoringContext, plan: AnyOfPlan) -> None:
        self.alternatives = [scorer(context, node) for node in plan.alternatives]
        super().__init__(self.alternatives, context.snapshot.max_doc)
        bounds = [s.score_range for s in self.alternatives]
        self.zero_elsewhere = bool(self.alternatives) and all(
            s.zero_elsewhere for s in self.alternatives
        )
        first = bounds[0] if bounds else 0.0
        # A typed word the index lacks (bound 0) sets no range: the others score as such.
        self.scales = [1.0] + [
            min(1.0, first / b) if b > 0 and first > 0 else 1.0 for b in bounds[1:]
        ]
        self.score_range = max(
            (b * k for b, k in zip(bounds, self.scales, strict=True)), default=0.0
        )

    @cached_property
    def upper_bound(self) -> float:
        return max(
            (s.upper_bound * k for s, k in zip(self.alternatives, self.scales, strict=True)),
            default=0.0,
        )

    def _each(self, ids: np.ndarray) -> np.ndarray:
        """Each alternative's scaled score at ``ids`` (0 where it does not match)."""
        out = np.zeros((len(self.alternatives), len(ids)), dtype=np.float64)
        for row, (alternative, scale) in enumerate(
            zip(self.alternatives, self.scales, strict=True)
        ):
            if alternative.zero_elsewhere:
                out[row] = scale * alternative.scores(ids)
                continue
            inside = alternative.contains(ids)
            if inside.any():
                out[row, inside] = scale * alternative.scores(ids[inside])
        return out

    def scores(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros(0, dtype=np.float64)
        return self._each(ids).max(axis=0)

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float64)
        for alternative, scale in zip(self.alternatives, self.scales, strict=True):
            inside = alternative.contains(ids)
            if inside.any():
                out[inside] = np.maximum(out[inside], scale * alternative.bounds(ids[inside]))
        return out

    def explain(self, doc: int) -> list[TermScore]:
        each = self._each(np.array([doc], dtype=np.int64))[:, 0]
        best = int(each.argmax())
        parts = self.alternatives[best].explain(doc)
        scale = self.scales[best]
        if scale == 1.0:
            return parts
        return [replace(p, boost=p.boost * scale, score=p.score * scale) for p in parts]


def scorer(context: ScoringContext, node: PlanNode) -> Scorer:
    if isinstance(node, TermsPlan):
        return _TermsScorer(context, node)
    if isinstance(node, PhrasePlan):
        return PhraseScorer(context, node)
    if isinstance(node, AnyOfPlan):
        return AnyOfScorer(context, node)
    return BoolScorer(context, node)


def passes(snapshot: Snapshot, restriction: Filter, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` a filter keeps."""
    if restriction.kind == "id":
        docnum = snapshot.docnum_of(restriction.values[0])
        return ids == (-1 if docnum is None else docnum)
    if restriction.kind == "date":
        published = snapshot.published[ids]
        keep = published != MISSING_DATE
        if restriction.start is not None:
            keep &= published >= restriction.start
        if restriction.end is not None:
            keep &= published < restriction.end
        return keep
    column, names = (
        (snapshot.category, snapshot.category_values)
        if restriction.field == "category"
        else (snapshot.source, snapshot.source_values)
    )
    codes = [code for code, value in enumerate(names) if value.casefold() in restriction.values]
    return np.isin(column[ids], codes)
