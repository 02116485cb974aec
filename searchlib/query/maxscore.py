"""MaxScore over a query's leaves: the matches that can still reach the page.

A query's clause tree adds up its bool's clauses and takes the best of a synonym's
alternatives (each scaled: ``AnyOfScorer``); its leaves are words, phrases and clauses
with required parts. A document scores no more than the tree's bound with each leaf
it matches at that leaf's upper bound (from the index's block maxima) and every other
leaf at 0. With L leaves there are 2**L such bounds, computed at once as an array; a
tally by document gives each match its set of leaves, so its bound is one lookup, and
a match whose bound is below a score ``wanted`` documents already reach is never
scored. This is MaxScore (Turtle and Flood, 1995) by the set of leaves a document
matches rather than by a prefix of clauses sorted by bound: inside one synonym clause
("kementerian keuangan" or "kemenkeu"), where clause-count tiers see a single
clause, the documents holding only one of the words are told apart from those
holding both or the acronym.

The score to reach comes from scoring the (at most ``SAMPLE``) matches whose sets bound
highest: the ``wanted``-th best score of any matches is at most the page's last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from searchlib.query.scorers import AnyOfScorer, BoolScorer, Scorer

__all__ = ["MAX_LEAVES", "SAMPLE", "leaf_maxscore"]

MAX_LEAVES = 16  # 65,536 sets at most; past it the root's clauses are the leaves
# Matches scored to learn a score the page reaches: at least ``wanted``, at most an
# eighth of the matches (they are scored again if they stay candidates).
SAMPLE = 256


@dataclass
class _Node:
    """A clause tree: a leaf (its number), a sum or a best-of (scaled children)."""

    leaf: int = -1
    children: tuple[_Node, ...] = ()
    scales: tuple[float, ...] = ()  # a best-of's: each child's factor

    def bounds(self, sets: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """The bound of a document matching each set of leaves in ``sets`` (bit i:
        leaf i), ``upper`` the leaves' upper bounds."""
        if self.leaf >= 0:
            return upper[self.leaf] * ((sets >> self.leaf) & 1)
        each = [child.bounds(sets, upper) for child in self.children]
        if not self.scales:
            return np.sum(each, axis=0)
        scaled = [scale * found for scale, found in zip(self.scales, each, strict=True)]
        return np.max(scaled, axis=0)


def _tree(scorer: Scorer, leaves: list[Scorer]) -> _Node:
    if (
        isinstance(scorer, BoolScorer)
        and scorer.should
        and not (scorer.must or scorer.filters or scorer.must_not)
    ):
        return _Node(children=tuple(_tree(child, leaves) for child in scorer.should))
    if isinstance(scorer, AnyOfScorer) and scorer.alternatives:
        children = tuple(_tree(child, leaves) for child in scorer.alternatives)
        return _Node(children=children, scales=tuple(scorer.scales))
    leaves.append(scorer)
    return _Node(leaf=len(leaves) - 1)


def _leaves(root: BoolScorer) -> tuple[list[Scorer], list[_Node]] | None:
    """The leaves of the root's should clauses and each clause's tree; the clauses
    themselves as leaves when the leaves are too many; None if those are too."""
    leaves: list[Scorer] = []
    trees = [_tree(child, leaves) for child in root.should]
    if len(leaves) > MAX_LEAVES:
        leaves = list(root.should)
        trees = [_Node(leaf=n) for n in range(len(leaves))]
    if not 2 <= len(leaves) <= MAX_LEAVES:
        return None  # one leaf: every match has the same set, nothing to tell apart
    return leaves, trees


def leaf_maxscore(
    root: BoolScorer,
    matches: np.ndarray,
    wanted: int,
    scores: Callable[[np.ndarray], np.ndarray],
    ceiling: float = 1.0,
) -> tuple[np.ndarray, int] | None:
    """Of ``matches`` (ascending, all matching ``root``, which orders them by score
    alone), those that can reach the first ``wanted``, and how many documents were
    scored to know (``scores``: the root's, times the recency factors of which
    ``ceiling`` is the largest). None when nothing can be pruned so: a required
    clause (its sum is no bound without the others), or too many leaves."""
    if root.must or not root.should or len(matches) <= wanted:
        return None
    found = _leaves(root)
    if found is None:
        return None
    leaves, trees = found
    sets = np.arange(1 << len(leaves), dtype=np.int64)
    upper = np.array([leaf.upper_bound for leaf in leaves], dtype=np.float64)
    table = np.sum([tree.bounds(sets, upper) for tree in trees], axis=0) * ceiling
    table = table * (1.0 + 1e-9) + 1e-12  # rounding must not put a bound under its score
    kind = np.uint8 if len(leaves) <= 8 else np.uint16
    tally = np.zeros(root.snapshot.max_doc, dtype=kind)
    for bit, leaf in enumerate(leaves):
        tally[leaf.docs()] |= kind(1 << bit)
    held = tally[matches]  # each match's set of leaves
    # The sample: matches of the sets that bound highest, best first, the last set
    # taken in part (in document order): usually one pass, over the best set alone.
    first = min(len(matches), max(wanted, min(SAMPLE, len(matches) // 8)))
    count = np.bincount(held, minlength=len(sets))
    order = np.argsort(-table, kind="stable")
    order = order[count[order] > 0]
    whole = int(np.searchsorted(np.cumsum(count[order]), first))  # sets taken whole
    parts = []
    if whole:
        taken = np.zeros(len(sets), dtype=bool)
        taken[order[:whole]] = True
        parts.append(matches[taken[held]])
    left = first - sum(len(part) for part in parts)
    if left > 0:
        parts.append(matches[held == order[whole]][:left])
    sample = np.sort(np.concatenate(parts))
    sampled = scores(sample)
    reached = np.partition(sampled, len(sample) - wanted)[len(sample) - wanted]
    return matches[(table >= reached)[held]], len(sample)
