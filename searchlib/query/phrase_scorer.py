"""A phrase bound to a snapshot: the documents where its words stand in order (read
from positions, only in the documents asked about until every match is wanted) and
its BM25F, each word counted only where the phrase occurs."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from searchlib.engine import STOP
from searchlib.engine.arrays import member
from searchlib.query.idsets import distinct, intersect, union
from searchlib.query.plan import CombinedTerm, PhrasePlan, TermRef
from searchlib.query.results import TermScore
from searchlib.query.scorer_base import Scorer
from searchlib.query.term_scoring import ScoringContext, TermPostings

__all__ = ["PhraseScorer"]

_EMPTY = np.zeros(0, dtype=np.int64)


class PhraseScorer(Scorer):
    zero_elsewhere = True  # frequencies count only where the phrase was found

    def __init__(self, context: ScoringContext, plan: PhrasePlan) -> None:
        self.snapshot = context.snapshot
        lengths = tuple(plan.fields)
        self.terms = [
            context.combined(
                CombinedTerm(tuple(TermRef(name, t, w) for name, w in plan.fields), lengths)
            )
            for t in plan.terms
        ]
        self.score_range = sum(t.score_range for t in self.terms)
        self._plan = plan
        self._postings = {
            name: [context.postings(name, t) for t in plan.terms] for name, _w in plan.fields
        }
        # Positions are read only for the documents asked about (a phrase of common
        # words inside a clause of rare ones reads few); ``docs`` reads them all.
        self._found: dict[str, np.ndarray] | None = None  # per field, every match
        self._asked = _EMPTY  # documents checked so far, ascending
        self._found_asked = {name: _EMPTY for name in self._postings}
        self._docs: np.ndarray | None = None

    def _matches(
        self, name: str, postings: list[TermPostings], within: np.ndarray | None
    ) -> np.ndarray:
        """The documents (of ``within``, if given) where the phrase occurs in ``name``."""
        plan = self._plan
        candidates = intersect([p.ids for p in postings] + ([] if within is None else [within]))
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
        """Per field, which of ``ids`` (ascending) hold the phrase there."""
        if self._found is not None:
            return {name: member(ids, found) for name, found in self._found.items()}
        size = self.snapshot.max_doc
        new = ids[~member(ids, self._asked)] if len(self._asked) else ids
        if len(new) > 1 and not bool(np.all(new[1:] > new[:-1])):
            new = distinct(np.sort(new))  # callers ask in ascending order; to be sure
        if len(new):
            for name, postings in self._postings.items():
                more = self._matches(name, postings, new)
                self._found_asked[name] = union([self._found_asked[name], more], size)
            self._asked = union([self._asked, new], size)
        return {name: member(ids, found) for name, found in self._found_asked.items()}

    def docs(self) -> np.ndarray:
        if self._docs is None:
            found = {name: self._matches(name, p, None) for name, p in self._postings.items()}
            self._found = found
            self._docs = union(list(found.values()), self.snapshot.max_doc)
        return self._docs

    def contains(self, ids: np.ndarray) -> np.ndarray:
        found = np.zeros(len(ids), dtype=bool)
        for mask in self._allowed(ids).values():
            found |= mask
        return found

    @property
    def at_least(self) -> int:
        return 0 if self._docs is None else len(self._docs)

    @property
    def at_most(self) -> int:
        if self._docs is not None:
            return len(self._docs)
        return sum(min((len(p.ids) for p in each), default=0) for each in self._postings.values())

    @cached_property
    def upper_bound(self) -> float:
        return sum(t.upper_bound for t in self.terms)

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        """Its words' bounds added up: a word scores no more counted only where the
        phrase stands than counted everywhere."""
        total = np.zeros(len(ids), dtype=np.float64)
        for term in self.terms:
            total += term.bounds(ids)
        return total

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


def _phrase_keys(docs: np.ndarray, positions: np.ndarray, offset: int) -> np.ndarray:
    """One key per (document, phrase start) a word at ``offset`` in the phrase allows,
    ascending: postings come by document, and positions ascend within each."""
    starts = positions.astype(np.int64) - offset
    valid = starts >= 0
    keys = (docs[valid] << 32) | starts[valid]
    if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
        keys = np.unique(keys)  # a word listed twice at one place (compound parts)
    return keys
