"""One query term bound to a snapshot: its postings, BM25F scores and score bounds.

``ScoringContext`` holds what one execution's scorers share (snapshot, ranking,
statistics, the postings and block maxima read so far). ``CombinedPostings`` is one
query term scored as one BM25F field over its fields (Lucene's
``CombinedFieldQuery``): its matches, its scores at chosen documents, an upper
bound of each score from the block maxima (``engine.blocks``) and of all of them.
The scorers of ``query.scorers`` are built from these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from searchlib.engine import Snapshot
from searchlib.engine.blocks import TermBlocks
from searchlib.query.idsets import union
from searchlib.query.plan import CombinedTerm
from searchlib.query.ranking import Ranking, bm25_idf, bm25_term_scores
from searchlib.query.results import TermScore
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
        self._blocks: dict[tuple[str, str], TermBlocks] = {}
        self._terms: dict[CombinedTerm, CombinedPostings] = {}

    def postings(self, field: str, term: str) -> TermPostings:
        found = self._postings.get((field, term))
        if found is None:
            found = self._postings[field, term] = TermPostings(self.snapshot, field, term)
        return found

    def blocks(self, field: str, term: str) -> TermBlocks:
        found = self._blocks.get((field, term))
        if found is None:
            found = self._blocks[field, term] = self.snapshot.blocks(field, term)
        return found

    def combined(self, term: CombinedTerm) -> CombinedPostings:
        found = self._terms.get(term)
        if found is None:
            found = self._terms[term] = CombinedPostings(self, term)
        return found


class TermPostings:
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


@dataclass(frozen=True)
class _FieldBlocks:
    """One field of a query term: its live postings, weight and block maxima."""

    postings: TermPostings
    weight: float
    last: np.ndarray
    tf: np.ndarray
    length: np.ndarray


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
        self.size = snapshot.max_doc
        # tf / (tf + norm) < 1: no document scores more than this (the term's range,
        # which scales synonyms; `max_score` is the tighter bound pruning uses).
        self.upper_bound = self.idf * (self.k1 + 1.0)
        self._context = context
        self._docs: np.ndarray | None = None
        self._block_table: list[_FieldBlocks] | None = None

    def _blocks(self) -> list[_FieldBlocks]:
        """Per field of the term: its postings, weight and block maxima (each block's
        last document, largest frequency and smallest weighted length)."""
        if self._block_table is None:
            table = []
            for ref, postings in self.parts:
                blocks = self._context.blocks(ref.field, ref.term)
                if not len(blocks) or not len(postings.ids):
                    continue
                length = np.zeros(len(blocks), dtype=np.float64)
                for name, weight in self.term.lengths:
                    length += weight * blocks.min_lengths[name]
                tf = blocks.tf.astype(np.float64)
                table.append(_FieldBlocks(postings, ref.weight, blocks.last, tf, length))
            self._block_table = table
        return self._block_table

    @property
    def max_score(self) -> float:
        """No document scores more (from the block maxima): the largest frequencies
        added up, at the smallest length of a document holding the term."""
        table = self._blocks()
        if not table or not self.idf:
            return 0.0
        tf = np.array([sum(part.weight * float(part.tf.max()) for part in table)])
        length = np.array([min(float(part.length.min()) for part in table)])
        return float(bm25_term_scores(tf, length, self.avg, self.idf, self.k1, self.b)[0])

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        """An upper bound of the term's score at each of ``ids`` (sorted), reading no
        document length. A field with fewer postings than ``ids`` gives its exact
        frequencies (its postings looked up in ``ids``); a larger one, the largest
        frequency of the block each document falls in, no posting read. The length
        is at least the block minimum of a field known to hold the term there, else
        the smallest among the blocks the document falls in (it holds the term in
        one of them)."""
        out = np.zeros(len(ids), dtype=np.float64)
        if not len(ids) or not self.idf:
            return out
        tf = np.zeros(len(ids), dtype=np.float64)
        known = np.full(len(ids), -np.inf)  # lengths a field holding the term proves
        possible = np.full(len(ids), np.inf)  # the least of the blocks' minima
        for part in self._blocks():
            if len(part.postings.ids) <= len(ids):
                held = part.postings.ids
                where = np.minimum(np.searchsorted(ids, held), len(ids) - 1)
                hit = ids[where] == held
                at = where[hit]
                tf[at] += part.weight * part.postings.tf[hit]
                block = np.searchsorted(part.last, held[hit])
                known[at] = np.maximum(known[at], part.length[block])
            else:
                block = np.searchsorted(part.last, ids)
                inside = block < len(part.last)
                where = block[inside]
                tf[inside] += part.weight * part.tf[where]
                possible[inside] = np.minimum(possible[inside], part.length[where])
        hit = tf > 0
        if hit.any():
            length = np.where(known > -np.inf, known, possible)[hit]
            out[hit] = bm25_term_scores(tf[hit], length, self.avg, self.idf, self.k1, self.b)
        return out

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
