"""One query term bound to a snapshot: its postings, BM25F scores and score bounds.

``ScoringContext`` holds what one execution's scorers share (snapshot, ranking,
statistics, the postings read so far). ``CombinedPostings`` is one query term scored
as one BM25F field over its fields (Lucene's ``CombinedFieldQuery``): its matches,
its scores at chosen documents, a bound of each document's score from the block
maxima of its postings (``bounds``) and the bound no score exceeds (``upper_bound``,
from the same: ``query.score_bounds``). The scorers of ``query.scorers`` are built
from these.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from searchlib.engine import SCORED_TEXT, Snapshot, TermBlocks
from searchlib.engine.arrays import found_in, member, member_ascending
from searchlib.query.idsets import union
from searchlib.query.plan import CombinedTerm
from searchlib.query.ranking import Ranking, bm25_idf, bm25_term_scores
from searchlib.query.results import TermScore
from searchlib.query.score_bounds import Points, best_score, pareto, term_frontier
from searchlib.query.statistics import Statistics

__all__ = ["CombinedPostings", "ScoringContext", "TermPostings"]


class ScoringContext:
    """What every scorer of one execution shares: the snapshot, the ranking, the
    collection statistics and the postings already read (live documents only)."""

    def __init__(self, snapshot: Snapshot, ranking: Ranking, statistics: Statistics) -> None:
        self.snapshot = snapshot
        self.ranking = ranking
        self.statistics = statistics
        self._postings: dict[tuple[str, str], TermPostings] = {}
        self._terms: dict[CombinedTerm, CombinedPostings] = {}

    def postings(self, field: str, term: str) -> TermPostings:
        found = self._postings.get((field, term))
        if found is None:
            found = self._postings[field, term] = TermPostings(self.snapshot, field, term)
        return found

    def combined(self, term: CombinedTerm) -> CombinedPostings:
        found = self._terms.get(term)
        if found is None:
            found = self._terms[term] = CombinedPostings(self, term)
        return found


# Once asked about (in all) 1/DENSE_FROM of the index's documents, a common word's
# frequencies are spread over an array by document (a gather per ask) instead of
# binary-searched again (measured at a million articles: 19,000 searches into
# 287,000 postings 0.74 ms; the spread 0.40 ms once, then 0.03 ms per ask). Only a
# word in at least 1/DENSE_FROM of them: a rare word's postings are searched fast.
DENSE_FROM = 32
# A term with at most this many postings is bounded by its postings themselves (their
# frequencies and lengths: few to read), not by blocks it shares with other terms.
EXACT_BOUNDS_UPTO = 256


class TermPostings:
    """One term's live postings in one field."""

    def __init__(self, snapshot: Snapshot, field: str, term: str) -> None:
        ids, tf = snapshot.postings(field, term)
        self._kept: np.ndarray | None = None  # places of the live postings, if some are not
        # Without deletions every posting is live: no gather over a common word's postings.
        if len(ids) and snapshot.doc_count < snapshot.max_doc:
            live = snapshot.live[ids]
            if not live.all():
                self._kept = np.flatnonzero(live)
                ids, tf = ids[live], tf[live]
        self.ids, self.tf = ids, tf
        self.size = snapshot.max_doc
        self._snapshot, self._field, self._term = snapshot, field, term
        self._asked = 0  # documents asked about so far
        self._by_document: np.ndarray | None = None  # the spread, built when worth it

    @cached_property
    def _blocks(self) -> TermBlocks | None:
        """The block maxima of the postings; None for a term bounded by its postings
        (a rare one, or a field without block maxima)."""
        if len(self.ids) <= EXACT_BOUNDS_UPTO:
            return None
        return self._snapshot.term_blocks(self._field, self._term)

    def frontier(self, lengths: np.ndarray) -> Points:
        """The (frequency, length) frontier bounding every posting (``lengths``: each
        document's length in the field): from block maxima, or the postings' own."""
        blocks = self._blocks
        if blocks is None:
            return pareto(self.tf, lengths[self.ids])
        # Blocks of deleted postings too: a bound of more postings is still a bound.
        return pareto(blocks.highest, blocks.lowest)

    def corners(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """At each of ``ids`` (ascending), at least the term's frequency and at most the
        document's length (``lengths``: in the field), from its posting's block; 0 and 0
        where the term is absent."""
        tf = np.zeros(len(ids), dtype=np.float64)
        length = np.zeros(len(ids), dtype=np.float64)
        if not len(self.ids) or not len(ids):
            return tf, length
        hit, where = found_in(ids, self.ids)
        blocks = self._blocks
        if blocks is None:
            tf[hit] = self.tf[where]
            length[hit] = lengths[ids[hit]]
            return tf, length
        block = blocks.at(where if self._kept is None else self._kept[where])
        tf[hit] = blocks.highest[block]
        length[hit] = blocks.lowest[block]
        return tf, length

    def _spread(self, asked: int) -> np.ndarray | None:
        """The frequencies by document (0: absent), once the documents asked about
        make it cheaper than searching; None until then."""
        if self._by_document is None:
            self._asked += asked
            if self._asked * DENSE_FROM < self.size or len(self.ids) * DENSE_FROM < self.size:
                return None
            spread = np.zeros(self.size, dtype=self.tf.dtype)
            spread[self.ids] = self.tf
            self._by_document = spread
        return self._by_document

    def at(self, ids: np.ndarray) -> np.ndarray:
        """The term's frequency at each of ``ids`` (ascending, distinct; 0 where it is
        absent)."""
        out = np.zeros(len(ids), dtype=np.float64)
        if not len(self.ids) or not len(ids):
            return out
        spread = self._spread(len(ids))
        if spread is not None:
            out[:] = spread[ids]
            return out
        hit, where = found_in(ids, self.ids)
        out[hit] = self.tf[where]
        return out

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (ascending, distinct) hold the term."""
        spread = self._spread(len(ids))
        if spread is not None:
            return spread[ids] > 0
        return member_ascending(ids, self.ids)


class CombinedPostings:
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
        self._snapshot_lengths = snapshot.lengths
        self._length_weights = dict(term.lengths)
        self.size = snapshot.max_doc
        # tf / (tf + norm) < 1: no document scores more than this, whatever the index
        # holds (what alternatives are scaled by: ``query.scorers``).
        self.score_range = self.idf * (self.k1 + 1.0)
        self._docs: np.ndarray | None = None

    @cached_property
    def upper_bound(self) -> float:
        """No document scores more: the best of the term's fields' block maxima
        combined (``query.score_bounds``), never above ``score_range``."""
        if not self.idf:
            return 0.0
        fields: dict[str, list[Points]] = {}
        for ref, postings in self.parts:
            if len(postings.ids):
                text = SCORED_TEXT[ref.field]
                tf, length = postings.frontier(self._snapshot_lengths[text])
                fields.setdefault(text, []).append((tf * ref.weight, length))
        frontier = term_frontier(
            [(self._length_weights.get(text, 0.0), lists) for text, lists in fields.items()]
        )
        found = best_score(frontier, self.avg, self.idf, self.k1, self.b)
        # Widened a hair: a bound must not fall below a score by rounding.
        return min(self.score_range, found * (1.0 + 1e-9) + 1e-12)

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        """At least the term's score at each of ``ids`` (ascending; 0 where absent),
        from the blocks of its postings there (no frequency or length read)."""
        out = np.zeros(len(ids), dtype=np.float64)
        if not len(ids) or not self.idf:
            return out
        tf = np.zeros(len(ids), dtype=np.float64)
        shortest: dict[str, np.ndarray] = {}  # per text field, a length it has at least
        for ref, postings in self.parts:
            text = SCORED_TEXT[ref.field]
            found_tf, found_length = postings.corners(ids, self._snapshot_lengths[text])
            tf += ref.weight * found_tf
            before = shortest.get(text)
            shortest[text] = found_length if before is None else np.maximum(before, found_length)
        length = sum(self._length_weights.get(text, 0.0) * v for text, v in shortest.items())
        hit = tf > 0
        if hit.any():
            scores = bm25_term_scores(
                tf[hit], np.asarray(length)[hit], self.avg, self.idf, self.k1, self.b
            )
            out[hit] = scores * (1.0 + 1e-9) + 1e-12
        return out

    def docs(self) -> np.ndarray:
        if self._docs is None:
            self._docs = union([p.ids for _ref, p in self.parts], self.size)
        return self._docs

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (ascending) hold the term in any of its fields, without
        building the union of its fields' postings."""
        if self._docs is not None:
            return member(ids, self._docs)
        found = np.zeros(len(ids), dtype=bool)
        for _ref, postings in self.parts:
            found |= postings.contains(ids)
        return found

    @property
    def at_least(self) -> int:
        """No fewer documents hold the term (its largest field's postings)."""
        return max((len(p.ids) for _ref, p in self.parts), default=0)

    @property
    def at_most(self) -> int:
        """No more documents hold the term (its fields' postings added up)."""
        return sum(len(p.ids) for _ref, p in self.parts)

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
