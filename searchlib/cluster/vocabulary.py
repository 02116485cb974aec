"""Compiling a query on a cluster's client: prefixes and fuzzy words expanded over
the shards' vocabularies summed, exactly as one index holding every article would.

``ClusterVocabulary`` asks the shards for their counts in a step per expansion;
``PreparedVocabulary`` reads them from the shards' preparations (one step for the
whole query, ``ShardSearcher.prepare``); ``NO_VOCABULARY`` compiles a query whose
words need no expansion on the client alone (raising ``NeedsVocabulary`` otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from searchlib.cluster.replicas import ReplicaSet
from searchlib.engine.snapshot import most_frequent, nearest
from searchlib.query.plan import Plan
from searchlib.query.shard import ShardPreparation, plan_terms
from searchlib.query.statistics import GlobalStatistics

__all__ = [
    "NO_VOCABULARY",
    "ClusterVocabulary",
    "NeedsVocabulary",
    "NoVocabulary",
    "PreparedVocabulary",
    "restricted",
]


class ClusterVocabulary:
    """The shards' vocabularies summed, for compiling on the client: prefixes and fuzzy
    words expand exactly as in one index holding every article."""

    def __init__(self, replicas: ReplicaSet, failures: dict[int, str]) -> None:
        self.replicas = replicas
        self.failures = failures  # shards that did not answer (the result is partial)

    def _summed(self, step: str, *args: Any) -> dict[int, Any]:
        calls = dict.fromkeys(range(self.replicas.catalog.shards), (step, *args))
        answers, failures = self.replicas.scatter(calls)
        self.failures.update(failures)
        return {shard: answers[shard] for shard in sorted(answers)}

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        counts: dict[str, int] = {}
        for part in self._summed("prefix_counts", field, prefix).values():
            for term, count in part.items():
                counts[term] = counts.get(term, 0) + count
        return most_frequent(counts, limit)

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]:
        counts: dict[str, tuple[int, int]] = {}
        for part in self._summed("near_counts", field, word, distance).values():
            for term, (count, edits) in part.items():
                counts[term] = (counts.get(term, (0, edits))[0] + count, edits)
        return nearest(counts, limit)


class NeedsVocabulary(Exception):
    """A query with prefix or fuzzy words: the shards' vocabularies are needed."""


class NoVocabulary:
    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        raise NeedsVocabulary

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]:
        raise NeedsVocabulary


NO_VOCABULARY = NoVocabulary()


class PreparedVocabulary:
    """The expansions of the shards' preparations summed: the terms one index holding
    every article would choose."""

    def __init__(self, answers: Iterable[ShardPreparation]) -> None:
        self.summed: dict[tuple[Any, ...], dict[str, Any]] = {}
        for answer in answers:
            for key, counts in answer.expansions.items():
                mine = self.summed.setdefault(key, {})
                for term, count in counts.items():
                    if key[0] == "prefix":
                        mine[term] = mine.get(term, 0) + count
                    else:  # (count, edits): the edits are the word's, the same everywhere
                        mine[term] = (mine.get(term, (0, count[1]))[0] + count[0], count[1])

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        return most_frequent(self.summed.get(("prefix", field, prefix), {}), limit)

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]:
        return nearest(self.summed.get(("near", field, word, distance), {}), limit)


def restricted(statistics: GlobalStatistics, plan: Plan) -> GlobalStatistics | None:
    """Only the frequencies of the terms ``plan`` scores (what every shard is sent);
    None if the preparations lack one (then they are gathered for the plan itself)."""
    wanted = set(plan_terms(plan.root)) if plan.root is not None else set()
    found = statistics.doc_freqs
    if not wanted <= found.keys():
        return None
    freqs = {key: found[key] for key in wanted}
    return GlobalStatistics(statistics.doc_counts, statistics.total_lengths, freqs)
