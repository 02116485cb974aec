"""Plan nodes bound to a snapshot: scorers that match and score sparsely.

Every plan node becomes a scorer with two steps: ``docs()``, the sorted live document
numbers it matches, found from posting ids alone; and ``scores(ids)``, its BM25F at
some of those documents, each term's postings looked up by binary search. Nothing is
sized by the number of articles except a filter-only query (which matches by columns).
``execute`` decides which documents are worth scoring.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from searchlib.engine import MISSING_DATE, STOP, Snapshot
from searchlib.engine.arrays import member
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
from searchlib.query.ranking import Ranking, bm25_idf, bm25_term_scores
from searchlib.query.results import TermScore
from searchlib.query.statistics import Statistics

__all__ = ["BoolScorer", "Scorer", "ScoringContext", "intersect", "passes", "scorer", "union"]

_EMPTY = np.zeros(0, dtype=np.int64)


class ScoringContext:
    """What every scorer of one execution shares: the snapshot, the ranking, the
    collection statistics and the postings already read (live documents only)."""

    def __init__(self, snapshot: Snapshot, ranking: Ranking, statistics: Statistics) -> None:
        self.snapshot = snapshot
        self.ranking = ranking
        self.statistics = statistics
        self._postings: dict[tuple[str, str], _Postings] = {}
        self._terms: dict[CombinedTerm, _CombinedPostings] = {}

    def postings(self, field: str, term: str) -> _Postings:
        found = self._postings.get((field, term))
        if found is None:
            found = self._postings[field, term] = _Postings(self.snapshot, field, term)
        return found

    def combined(self, term: CombinedTerm) -> _CombinedPostings:
        found = self._terms.get(term)
        if found is None:
            found = self._terms[term] = _CombinedPostings(self, term)
        return found


class _Postings:
    """One term's live postings in one field."""

    def __init__(self, snapshot: Snapshot, field: str, term: str) -> None:
        ids, tf = snapshot.postings(field, term)
        if len(ids):
            live = snapshot.live[ids]
            if not live.all():
                ids, tf = ids[live], tf[live]
        self.ids, self.tf = ids, tf

    def at(self, ids: np.ndarray) -> np.ndarray:
        """The term's frequency at each of ``ids`` (0 where it is absent)."""
        out = np.zeros(len(ids), dtype=np.float64)
        if not len(self.ids) or not len(ids):
            return out
        where = np.searchsorted(self.ids, ids)
        where[where == len(self.ids)] = 0
        hit = self.ids[where] == ids
        out[hit] = self.tf[where[hit]]
        return out


class _CombinedPostings:
    """One query term as one BM25F field: frequencies and lengths of its fields added
    with their weights, then one saturation and one idf (Lucene's ``CombinedFieldQuery``:
    df is the largest of the fields' document frequencies, N the largest document count,
    avgdl the weighted total length over N)."""

    def __init__(self, context: ScoringContext, term: CombinedTerm) -> None:
        stats = context.statistics
        snapshot = context.snapshot
        self.term = term
        self.k1, self.b = context.ranking.k1, context.ranking.b
        self.parts = [(ref, context.postings(ref.field, ref.term)) for ref in term.refs]
        self.doc_freq = max(
            (stats.doc_freq(ref.field, ref.term, len(p.ids)) for ref, p in self.parts),
            default=0,
        )
        self.doc_count = max((stats.doc_count(name) for name, _w in term.lengths), default=0)
        total = sum(w * stats.total_length(name) for name, w in term.lengths)
        self.avg = total / self.doc_count if self.doc_count else 0.0
        self.idf = bm25_idf(self.doc_count, self.doc_freq) if self.doc_freq else 0.0
        self.lengths = [(snapshot.lengths[name], w) for name, w in term.lengths]
        self.size = snapshot.max_doc
        # tf / (tf + norm) < 1: no document scores more than this.
        self.upper_bound = self.idf * (self.k1 + 1.0)
        self._docs: np.ndarray | None = None

    def docs(self) -> np.ndarray:
        if self._docs is None:
            self._docs = union([p.ids for _ref, p in self.parts], self.size)
        return self._docs

    def frequencies(
        self, ids: np.ndarray, allowed: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """The weighted frequency at ``ids``; ``allowed`` (field -> mask over ``ids``)
        counts a field only where its mask holds (a phrase's fields)."""
        tf = np.zeros(len(ids), dtype=np.float64)
        for ref, postings in self.parts:
            found = postings.at(ids)
            if allowed is not None:
                found *= allowed[ref.field]
            tf += ref.weight * found
        return tf

    def scores(self, ids: np.ndarray, allowed: dict[str, np.ndarray] | None = None) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float64)
        if not len(ids) or not self.idf:
            return out
        tf = self.frequencies(ids, allowed)
        hit = tf > 0
        if hit.any():
            docs = ids[hit]
            length = sum(w * lengths[docs] for lengths, w in self.lengths)
            out[hit] = bm25_term_scores(tf[hit], length, self.avg, self.idf, self.k1, self.b)
        return out

    def explain(self, doc: int, allowed: dict[str, np.ndarray] | None = None) -> TermScore | None:
        single = np.array([doc], dtype=np.int64)
        field_tf = {}
        for ref, postings in self.parts:
            tf = float(postings.at(single)[0])
            if tf and (allowed is None or allowed[ref.field][0]):
                # A synonym's forms share a field: the later ones are named by term.
                key = f"{ref.field}:{ref.term}" if ref.field in field_tf else ref.field
                field_tf[key] = tf
        if not field_tf:
            return None
        return TermScore(
            field="+".join(field_tf),
            term=self.term.term,
            tf=float(self.frequencies(single, allowed)[0]),
            doc_freq=self.doc_freq,
            doc_count=self.doc_count,
            idf=self.idf,
            length=float(sum(w * lengths[doc] for lengths, w in self.lengths)),
            avg_length=self.avg,
            boost=1.0,
            score=float(self.scores(single, allowed)[0]),
            field_tf=field_tf,
        )


class Scorer:
    """A plan node bound to a snapshot."""

    upper_bound: float = 0.0

    def docs(self) -> np.ndarray:  # pragma: no cover - every scorer overrides
        raise NotImplementedError

    def scores(self, ids: np.ndarray) -> np.ndarray:
        """Scores at ``ids``, which this scorer matches."""
        raise NotImplementedError  # pragma: no cover

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

    def _matches(self, name: str, plan: PhrasePlan, postings: list[_Postings]) -> np.ndarray:
        candidates = intersect([p.ids for p in postings])
        if not len(candidates):
            return _EMPTY
        keys: np.ndarray | None = None
        for term, offset in zip(plan.terms, plan.offsets, strict=True):
            docs, positions = self.snapshot.positions_flat(name, term, candidates)
            starts = positions.astype(np.int64) - offset
            valid = starts >= 0
            # One key per (document, phrase start) this term allows.
            mine = np.unique((docs[valid] << 32) | starts[valid])
            keys = mine if keys is None else np.intersect1d(keys, mine, assume_unique=True)
            if not len(keys):
                return _EMPTY
        for offset, word in plan.stops:  # each stopword at its place (its own field)
            if keys is None:
                break
            docs, positions = self.snapshot.positions_flat(STOP[name], word, np.unique(keys >> 32))
            starts = positions.astype(np.int64) - offset
            valid = starts >= 0
            mine = np.unique((docs[valid] << 32) | starts[valid])
            keys = np.intersect1d(keys, mine, assume_unique=True)
            if not len(keys):
                return _EMPTY
        return _EMPTY if keys is None else np.unique(keys >> 32)

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
        total = np.zeros(len(ids), dtype=np.float64)
        for child in self.must:
            total += child.scores(ids)
        for child in self.should:
            inside = member(ids, child.docs())
            if inside.any():
                total[inside] += child.scores(ids[inside])
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
        return _PhraseScorer(context, node)
    if isinstance(node, AnyOfPlan):
        return _AnyOfScorer(context, node)
    return BoolScorer(context, node)


# -- sorted id sets ------------------------------------------------------------------


def union(arrays: list[np.ndarray], size: int) -> np.ndarray:
    """The sorted union of sorted id arrays (a bitmap when they are large)."""
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return _EMPTY
    if len(arrays) == 1:
        return arrays[0]
    total = sum(len(a) for a in arrays)
    if total * 16 > size:
        seen = np.zeros(size, dtype=bool)
        for array in arrays:
            seen[array] = True
        return np.flatnonzero(seen).astype(np.int64)
    joined = np.sort(np.concatenate(arrays), kind="stable")  # merges the sorted runs
    return joined[np.concatenate(([True], joined[1:] != joined[:-1]))]


def intersect(arrays: list[np.ndarray]) -> np.ndarray:
    """The sorted intersection of sorted id arrays, smallest first."""
    if not arrays:
        return _EMPTY
    ordered = sorted(arrays, key=len)
    out = ordered[0]
    for array in ordered[1:]:
        if not len(out):
            break
        out = out[member(out, array)]
    return out


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
