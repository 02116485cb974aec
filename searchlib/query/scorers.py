"""Plan nodes bound to a snapshot: scorers that match and score sparsely.

Every plan node becomes a scorer with two steps: ``docs()``, the sorted live document
numbers it matches, found from posting ids alone; and ``scores(ids)``, its BM25F at
some of those documents, each term's postings looked up by binary search. Beside
them, ``bounds(ids)``: an upper bound of each score from which clauses a document
matches (their upper bounds added up), from posting ids alone. Nothing is sized by
the number of articles except a filter-only query (which matches by columns).
``execute`` decides which documents are worth scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from searchlib.engine import MISSING_DATE, STOP, Snapshot
from searchlib.engine.arrays import member
from searchlib.query.idsets import distinct, intersect, union
from searchlib.query.plan import (
    AnyOfPlan,
    BoolPlan,
    CombinedTerm,
    Filter,
    PhrasePlan,
    PlanNode,
    TermRef,
    TermsPlan,
)
from searchlib.query.results import TermScore
from searchlib.query.term_scoring import ScoringContext, TermPostings

__all__ = ["BoolScorer", "Scorer", "passes", "scorer"]

_EMPTY = np.zeros(0, dtype=np.int64)


class Scorer:
    """A plan node bound to a snapshot: ``docs`` (what it matches), ``scores`` (at
    some of them), ``bounds`` (at least each score) and ``upper_bound`` (no document
    scores more)."""

    upper_bound: float = 0.0

    def docs(self) -> np.ndarray:  # pragma: no cover - every scorer overrides
        raise NotImplementedError

    def scores(self, ids: np.ndarray) -> np.ndarray:
        """Scores at ``ids``, which this scorer matches."""
        raise NotImplementedError  # pragma: no cover

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        """At least the score at each of ``ids`` (matches of this scorer), from which
        of its clauses each matches: their upper bounds added up (posting ids only)."""
        return np.full(len(ids), self.upper_bound)

    def explain(self, doc: int) -> list[TermScore]:
        return []


class _TermsScorer(Scorer):
    def __init__(self, context: ScoringContext, plan: TermsPlan) -> None:
        self.terms = [context.combined(term) for term in plan.terms]
        self.size = context.snapshot.max_doc
        self.upper_bound = sum(t.upper_bound for t in self.terms)
        self._docs: np.ndarray | None = None

    def docs(self) -> np.ndarray:
        if self._docs is None:
            self._docs = union([t.docs() for t in self.terms], self.size)
        return self._docs

    def scores(self, ids: np.ndarray) -> np.ndarray:
        total = np.zeros(len(ids), dtype=np.float64)
        for term in self.terms:
            total += term.scores(ids)
        return total

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        if len(self.terms) == 1:
            return super().bounds(ids)  # every match holds the one term
        total = np.zeros(len(ids), dtype=np.float64)
        for term in self.terms:
            total += member(ids, term.docs()) * term.upper_bound
        return total

    def explain(self, doc: int) -> list[TermScore]:
        found = (t.explain(doc) for t in self.terms)
        return [c for c in found if c is not None]


class _PhraseScorer(Scorer):
    def __init__(self, context: ScoringContext, plan: PhrasePlan) -> None:
        self.snapshot = context.snapshot
        lengths = tuple(plan.fields)
        self.terms = [
            context.combined(
                CombinedTerm(tuple(TermRef(name, t, w) for name, w in plan.fields), lengths)
            )
            for t in plan.terms
        ]
        # Per field: the documents where the phrase occurs.
        self.found: dict[str, np.ndarray] = {}
        for name, _weight in plan.fields:
            postings = [context.postings(name, t) for t in plan.terms]
            self.found[name] = self._matches(name, plan, postings)
        self.upper_bound = sum(t.upper_bound for t in self.terms)
        self._docs = union(list(self.found.values()), self.snapshot.max_doc)

    def _matches(self, name: str, plan: PhrasePlan, postings: list[TermPostings]) -> np.ndarray:
        candidates = intersect([p.ids for p in postings])
        if not len(candidates):
            return _EMPTY
        keys: np.ndarray | None = None
        # Rarest word first, and each next word's positions read only in the documents
        # the words before it left: a phrase of common words reads few positions.
        words = sorted(
            zip(plan.terms, plan.offsets, postings, strict=True), key=lambda w: len(w[2].ids)
        )
        places = [(name, term, offset) for term, offset, _postings in words]
        places += [(STOP[name], word, offset) for offset, word in plan.stops]
        for field_name, term, offset in places:  # each stopword at its place too
            docs, positions = self.snapshot.positions_flat(field_name, term, candidates)
            mine = _phrase_keys(docs, positions, offset)
            keys = mine if keys is None else intersect([keys, mine])
            if not len(keys):
                return _EMPTY
            candidates = distinct(keys >> 32)
        return _EMPTY if keys is None else candidates

    def _allowed(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        return {name: member(ids, found) for name, found in self.found.items()}

    def docs(self) -> np.ndarray:
        return self._docs

    def scores(self, ids: np.ndarray) -> np.ndarray:
        allowed = self._allowed(ids)
        total = np.zeros(len(ids), dtype=np.float64)
        for term in self.terms:
            total += term.scores(ids, allowed)
        return total

    def explain(self, doc: int) -> list[TermScore]:
        allowed = self._allowed(np.array([doc], dtype=np.int64))
        found = (t.explain(doc, allowed) for t in self.terms)
        return [c for c in found if c is not None]


class BoolScorer(Scorer):
    def __init__(self, context: ScoringContext, plan: BoolPlan) -> None:
        self.snapshot = context.snapshot
        self.must = [scorer(context, node) for node in plan.must]
        self.should = [scorer(context, node) for node in plan.should]
        self.must_not = [scorer(context, node) for node in plan.must_not]
        self.filters = plan.filters
        self.upper_bound = sum(s.upper_bound for s in (*self.must, *self.should))
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
            ids = np.flatnonzero(self.snapshot.live).astype(np.int64)
        for restriction in self.filters:
            ids = ids[passes(self.snapshot, restriction, ids)]
        if self.must_not and len(ids):
            ids = ids[~member(ids, union([s.docs() for s in self.must_not], size))]
        self._docs = ids
        return ids

    def scores(self, ids: np.ndarray) -> np.ndarray:
        return self._summed(ids, lambda child, at: child.scores(at))

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        if len(self.should) == 1 and not self.must:
            return self.should[0].bounds(ids)  # every match matches its one clause
        return self._summed(ids, lambda child, at: child.bounds(at))

    def _summed(
        self, ids: np.ndarray, part: Callable[[Scorer, np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """``part`` (scores or bounds) of every must clause and of each should clause
        where it matches, added up at ``ids``."""
        total = np.zeros(len(ids), dtype=np.float64)
        for child in self.must:
            total += part(child, ids)
        for child in self.should:
            inside = member(ids, child.docs())
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
            if member(single, child.docs())[0]:
                out.extend(child.explain(doc))
        return out


class _AnyOfScorer(Scorer):
    """The first alternative (the words as typed) or another way to match them (a
    synonym's entries), scoring the best: a disjunction max whose other alternatives
    are scaled into the first's range (by the ratio of upper bounds), so an entry of
    three words never outscores the one word typed just by being longer."""

    def __init__(self, context: ScoringContext, plan: AnyOfPlan) -> None:
        self.alternatives = [scorer(context, node) for node in plan.alternatives]
        self.size = context.snapshot.max_doc
        bounds = [s.upper_bound for s in self.alternatives]
        first = bounds[0] if bounds else 0.0
        # A typed word the index lacks (bound 0) sets no range: the others score as such.
        self.scales = [1.0] + [
            min(1.0, first / b) if b > 0 and first > 0 else 1.0 for b in bounds[1:]
        ]
        self.upper_bound = max(
            (b * k for b, k in zip(bounds, self.scales, strict=True)), default=0.0
        )
        self._docs: np.ndarray | None = None

    def docs(self) -> np.ndarray:
        if self._docs is None:
            self._docs = union([s.docs() for s in self.alternatives], self.size)
        return self._docs

    def _each(self, ids: np.ndarray) -> np.ndarray:
        """Each alternative's scaled score at ``ids`` (0 where it does not match)."""
        out = np.zeros((len(self.alternatives), len(ids)), dtype=np.float64)
        for row, (alternative, scale) in enumerate(
            zip(self.alternatives, self.scales, strict=True)
        ):
            inside = member(ids, alternative.docs())
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
            inside = member(ids, alternative.docs())
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


def _phrase_keys(docs: np.ndarray, positions: np.ndarray, offset: int) -> np.ndarray:
    """One key per (document, phrase start) a word at ``offset`` in the phrase allows,
    ascending: postings come by document, and positions ascend within each."""
    starts = positions.astype(np.int64) - offset
    valid = starts >= 0
    keys = (docs[valid] << 32) | starts[valid]
    if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
        keys = np.unique(keys)  # a word listed twice at one place (compound parts)
    return keys


def scorer(context: ScoringContext, node: PlanNode) -> Scorer:
    if isinstance(node, TermsPlan):
        return _TermsScorer(context, node)
    if isinstance(node, PhrasePlan):
        return _PhraseScorer(context, node)
    if isinstance(node, AnyOfPlan):
        return _AnyOfScorer(context, node)
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
