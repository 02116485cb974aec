"""Executing a plan over a snapshot: which documents to score, and the page.

The plan's scorers (``query.scorers``) match from posting ids alone; ``execute`` then
scores only the documents that can still reach the page, and the pruning is exact:

- with coordination, documents matching more clauses rank first, so only the highest
  clause-count tiers that fill the page are scored; when the documents matching every
  clause fill it and the total may be a lower bound (``track_total``), the union of the
  clauses is not even built;
- without it, or within the one clause of a query (a synonym's words and its other
  forms), MaxScore (Turtle and Flood, 1995) by the set of leaves (words, phrases) a
  document matches (``query.maxscore``): a document whose leaves' upper bounds,
  combined as the clause tree combines scores, stay below a score ``wanted``
  documents already reach is not scored (past ``maxscore.MAX_LEAVES`` leaves and
  clauses: clauses sorted by bound, those adding up to less cannot lift a document
  into the page on their own);
- a recency (``Ranking.recency``) multiplies each document's score by its own factor,
  known before scoring: a candidate's bound by its factor, a clause's by the largest;
- clause bounds come from the block maxima the index keeps (``engine.blockmax``:
  per block of postings its largest frequency and smallest length);
- then, when many candidates are left, each is bounded by its postings' blocks in
  the clauses it matches (at any depth: a synonym's alternatives, a clause's words),
  the best bounds are scored first and then only the candidates whose bound reaches
  the page's last score (``_by_bounds``).
"""

from __future__ import annotations

from time import time

import numpy as np

from searchlib.engine import MISSING_DATE, Snapshot
from searchlib.engine.arrays import member
from searchlib.query.idsets import union
from searchlib.query.maxscore import leaf_maxscore
from searchlib.query.plan import BoolPlan
from searchlib.query.ranking import Ranking
from searchlib.query.recency import Recency
from searchlib.query.results import TermScore
from searchlib.query.scorers import BoolScorer, Scorer
from searchlib.query.statistics import LocalStatistics, Statistics
from searchlib.query.term_scoring import ScoringContext

__all__ = ["Execution", "Scorer", "execute"]

_EMPTY = np.zeros(0, dtype=np.int64)
# Candidates past this many are bounded before they are scored (fewer: scored outright).
BOUND_FROM = 2_048
# ... and only while they are at most this share of the index's documents. Past it a
# common word is spread by document (term_scoring.DENSE_FROM), scoring a candidate is
# a gather, and bounding it (a search of each word's postings) costs more than it
# saves: at a million articles "jakarta" (590,000 matches) 169 ms bounded, 57 ms
# scored whole; "pemerintah" (295,000) 70 against 32 ms; 65,000 candidates the same,
# and with 1/16 the benchmark's p95 rose 5% (some 62,500-125,000 were bounded better).
BOUND_UPTO = 1 / 8
# Bounded candidates scored first (those with the best bounds), at least this many.
FIRST_SCORED = 256


class Scoring:
    """A plan's scores as the page orders them: the root scorer's, each multiplied by
    the document's recency factor when the ranking has one."""

    def __init__(self, root: BoolScorer, snapshot: Snapshot, recency: Recency | None) -> None:
        self.root = root
        self.recency = None if recency is None else recency.at(int(time()))
        self._published = snapshot.published if recency is not None else None
        # The largest factor: what a clause's upper bound is multiplied by.
        self.ceiling = 1.0 if self.recency is None else self.recency.ceiling

    def factors(self, ids: np.ndarray) -> np.ndarray | None:
        if self.recency is None or self._published is None:
            return None
        return self.recency.factors(self._published[ids])

    def scores(self, ids: np.ndarray) -> np.ndarray:
        scores = self.root.scores(ids)
        factors = self.factors(ids)
        return scores if factors is None else scores * factors

    def bounds(self, ids: np.ndarray) -> np.ndarray:
        bounds = self.root.bounds(ids)
        factors = self.factors(ids)
        return bounds if factors is None else bounds * factors


class Execution:
    """The first ``wanted`` matches of a plan in result order, with how many match:
    ``total`` is exact (``relation`` ``"eq"``) or, when the page came from the top
    clause tier alone and at least the tracked number match, a lower bound
    (``"gte"``, Elasticsearch's ``track_total_hits``). ``matches`` (every matching
    document, ascending) is computed only if a collector reads it."""

    def __init__(
        self,
        root: Scoring,
        top: np.ndarray,
        top_scores: np.ndarray,
        top_primary: np.ndarray,
        scored: int,
        matches: np.ndarray | None,
        *,
        total: int | None = None,
        exclude: int | None = None,
    ) -> None:
        self.scoring = root
        self.root = root.root
        self.top = top  # the first `wanted`, in result order
        self.top_scores = top_scores
        self.top_primary = top_primary  # what orders before the score: clause count or date
        self.scored = scored  # documents whose score was computed (pruning keeps it small)
        self._matches = matches
        self._exclude = exclude
        self.total = len(matches) if matches is not None else int(total or 0)
        self.relation = "eq" if matches is not None else "gte"

    @property
    def matches(self) -> np.ndarray:
        if self._matches is None:
            found = self.root.docs()
            if self._exclude is not None:
                found = found[found != self._exclude]
            self._matches = found
        return self._matches

    def explain(self, doc: int) -> list[TermScore]:
        return self.root.explain(doc)

    def recency_factor(self, doc: int) -> float | None:
        """What the document's score was multiplied by for recency (None: no recency)."""
        factors = self.scoring.factors(np.array([doc], dtype=np.int64))
        return None if factors is None else float(factors[0])


def execute(
    plan: BoolPlan,
    snapshot: Snapshot,
    ranking: Ranking,
    wanted: int,
    sort: str = "relevance",
    exclude: int | None = None,
    *,
    prune: bool = True,
    statistics: Statistics | None = None,
    track_total: int | None = None,
) -> Execution:
    """Match ``plan`` and rank its first ``wanted`` documents (``exclude``: a document
    never returned). ``prune=False`` scores every match (the reference for tests);
    ``statistics`` replaces the snapshot's own (a shard scoring with a cluster's);
    ``track_total``: count matches exactly up to this many, past it a lower bound may
    do (None: always exact)."""
    stats = LocalStatistics(snapshot) if statistics is None else statistics
    bool_root = BoolScorer(ScoringContext(snapshot, ranking, stats), plan)
    root = Scoring(bool_root, snapshot, ranking.recency)
    if (
        track_total is not None
        and prune
        and wanted > 0
        and sort == "relevance"
        and ranking.coordination
        and exclude is None
    ):
        fast = _top_tier_page(root, wanted, track_total)
        if fast is not None:
            return fast
    matches = bool_root.docs()
    if exclude is not None:
        matches = matches[matches != exclude]
    if wanted <= 0 or not len(matches):
        return Execution(root, _EMPTY, np.zeros(0), np.zeros(0), 0, matches)
    sampled = 0  # documents MaxScore scored to find the score the page must reach
    by_leaves = None  # what MaxScore by leaves kept (``query.maxscore``), and sampled
    if sort != "relevance":
        candidates, primary = matches, _date_key(snapshot, matches, sort)
    elif ranking.coordination and prune and len(bool_root.should) == 1 and not bool_root.must:
        # One clause: one tier, ordered by score alone; its leaves may still prune.
        by_leaves = leaf_maxscore(bool_root, matches, wanted, root.scores, root.ceiling)
        candidates, sampled = by_leaves if by_leaves is not None else (matches, 0)
        primary = np.ones(len(candidates))
    elif ranking.coordination:
        counts = bool_root.matched(matches)
        if prune:
            candidates, primary = _top_tiers(matches, counts, wanted)
        else:
            candidates, primary = matches, counts.astype(np.float64)
    else:
        candidates = matches
        if prune:
            by_leaves = leaf_maxscore(bool_root, matches, wanted, root.scores, root.ceiling)
            found = by_leaves if by_leaves is not None else _maxscore(root, matches, wanted)
            candidates, sampled = found
        primary = np.zeros(len(candidates))
    bounded = None
    if (
        prune
        and sort == "relevance"
        and by_leaves is None  # scoring its candidates costs less than bounding them
        and BOUND_FROM < len(candidates) <= BOUND_UPTO * snapshot.max_doc
    ):
        bounded = _by_bounds(root, candidates, primary, wanted)
    if bounded is not None:
        top, top_scores, top_primary, scored = bounded
        return Execution(root, top, top_scores, top_primary, scored + sampled, matches)
    scores = root.scores(candidates)
    order = _order(candidates, scores, primary, wanted)
    scored = len(candidates) + sampled
    return Execution(root, candidates[order], scores[order], primary[order], scored, matches)


def _by_bounds(
    root: Scoring, candidates: np.ndarray, primary: np.ndarray, wanted: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """The first ``wanted`` of ``candidates`` by (primary, score), scoring as few as
    the bounds allow: each candidate's score is bounded by the block maxima of its
    postings (``Scorer.bounds``: posting ids and blocks only, no frequency or length
    read); the candidates with the best (primary, bound) are scored first,
    which sets the (primary, score) the page's last entry reaches at least, and then
    only the candidates whose (primary, bound) reaches it are scored (a bound is never
    below its score, so no other could enter the page). Returns the page (documents,
    scores, primaries) and how many documents were scored; None when the bounds are
    all alike (one word: nothing to tell apart)."""
    bounds = root.bounds(candidates)
    if not len(bounds) or bounds.min() == bounds.max():
        return None
    # Rounding may put a bound a hair under the score it bounds: widen it.
    bounds = bounds * (1.0 + 1e-9) + 1e-12
    span = float(bounds.max(initial=0.0)) + 1.0
    key = primary * span * 4 + bounds  # (primary, bound) as one number, as _order does
    first = min(len(candidates), max(4 * wanted, FIRST_SCORED))
    best = np.sort(np.argpartition(-key, first - 1)[:first])  # ascending documents
    best_scores = root.scores(candidates[best])
    page = _order(candidates[best], best_scores, primary[best], wanted)
    floor_primary, floor_score = primary[best][page[-1]], best_scores[page[-1]]
    rest = np.ones(len(candidates), dtype=bool)
    rest[best] = False
    rest &= (primary > floor_primary) | ((primary == floor_primary) & (bounds >= floor_score))
    more = np.flatnonzero(rest)
    chosen = np.concatenate((best, more))
    scores = np.concatenate((best_scores, root.scores(candidates[more])))
    found, found_primary = candidates[chosen], primary[chosen]
    page = _order(found, scores, found_primary, wanted)
    return found[page], scores[page], found_primary[page], len(chosen)


def _top_tier_page(root: Scoring, wanted: int, track_total: int) -> Execution | None:
    """The page when the documents matching every clause, or every clause but one,
    are enough to fill it: with coordination they rank first, so neither the union of
    the clauses nor the clause counts of the rest are needed. Only when at least
    ``track_total`` documents are known to match (the largest clause, with no must,
    filter or exclusion), else None."""
    tree = root.root
    clauses = [*tree.must, *tree.should]
    if len(tree.should) < 2 or tree.must or tree.filters or tree.must_not:
        return None
    # The largest clause's largest word: a count known without building any union.
    lower = max(clause.at_least for clause in clauses)
    if lower < max(track_total, 1):
        return None
    top = _matching_all(clauses)
    primary = np.full(len(top), float(len(clauses)))
    if len(top) < wanted and len(clauses) >= 3:
        # The next tier: the documents missing one clause (a rare word, a typo), each
        # found as those matching all the others, still without any union.
        missing_one = [_matching_all([c for c in clauses if c is not left]) for left in clauses]
        found = union([top, *missing_one], tree.snapshot.max_doc)  # ascending
        primary = np.where(member(found, top), len(clauses), len(clauses) - 1).astype(float)
        top = found
    if len(top) < wanted:
        return None
    # Scored whole: bounding them first (``_by_bounds``) costs as much as scoring
    # them, since every clause's postings are searched for them either way (at a
    # million articles it made the benchmark's p95 a third slower).
    scores = root.scores(top)
    order = _order(top, scores, primary, wanted)
    return Execution(root, top[order], scores[order], primary[order], len(top), None, total=lower)


def _matching_all(clauses: list[Scorer]) -> np.ndarray:
    """The documents every one of ``clauses`` matches, ascending: the smallest
    clause's matches, kept where each other clause matches too (asked of their
    postings: a common word's union of fields is never built)."""
    ordered = sorted(clauses, key=lambda clause: clause.at_most)
    found = ordered[0].docs()
    for clause in ordered[1:]:
        if not len(found):
            break
        found = found[clause.contains(found)]
    return found


def _top_tiers(
    matches: np.ndarray, counts: np.ndarray, wanted: int
) -> tuple[np.ndarray, np.ndarray]:
    """The documents in the highest clause-count tiers that hold ``wanted`` (all that
    can reach the page), with their counts."""
    tally = np.bincount(counts)
    reached = np.cumsum(tally[::-1])  # documents with at least max, max-1, ... clauses
    tiers = int(np.searchsorted(reached, wanted))
    floor = max(len(tally) - 1 - tiers, 0)
    keep = counts >= floor
    return matches[keep], counts[keep].astype(np.float64)


def _maxscore(root: Scoring, matches: np.ndarray, wanted: int) -> tuple[np.ndarray, int]:
    """The matches that can reach the first ``wanted`` by score (MaxScore), and how
    many documents were scored to find the score they must reach."""
    clauses = root.root.should if not root.root.must else []
    if len(clauses) < 2 or len(matches) <= wanted:
        return matches, 0
    # A score reached by `wanted` documents: those of the most selective clause.
    smallest = min(clauses, key=lambda c: len(c.docs()))
    sample = smallest.docs()
    sample = sample[member(sample, matches)]
    if len(sample) < wanted:
        return matches, 0
    reached = np.partition(root.scores(sample), len(sample) - wanted)[len(sample) - wanted]
    bounds = sorted(clauses, key=lambda c: c.upper_bound)
    total, cut = 0.0, 0
    for clause in bounds:
        # A document matching only the clauses cut scores at most their bounds' sum,
        # times the largest recency factor.
        if (total + clause.upper_bound) * root.ceiling >= reached:
            break
        total += clause.upper_bound
        cut += 1
    if not cut:
        return matches, len(sample)
    essential = union([c.docs() for c in bounds[cut:]], root.root.snapshot.max_doc)
    return matches[member(matches, essential)], len(sample)


def _date_key(snapshot: Snapshot, docs: np.ndarray, sort: str) -> np.ndarray:
    dates = snapshot.published[docs].astype(np.float64)
    primary = dates if sort == "newest" else -dates
    primary[snapshot.published[docs] == MISSING_DATE] = -np.inf
    return primary


def _order(docs: np.ndarray, scores: np.ndarray, primary: np.ndarray, wanted: int) -> np.ndarray:
    """Indexes of the first ``wanted`` of ``docs`` by (primary, score) descending, then
    document number: exact, ties included."""
    if wanted < len(docs):
        span = float(np.max(np.abs(scores))) + 1.0
        key = np.where(np.isfinite(primary), primary, -1e300) * span * 4 + scores
        threshold = np.partition(key, len(key) - wanted)[len(key) - wanted]
        keep = np.flatnonzero(key >= threshold)
    else:
        keep = np.arange(len(docs))
    order = np.lexsort((docs[keep], -scores[keep], -primary[keep]))
    return keep[order][:wanted]
