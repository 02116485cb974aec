"""What a cluster search needs before it ranks: the plan and its global statistics.

A query is compiled once, on the client (``cluster.vocabulary`` expands prefixes and
fuzzy words over the shards' vocabularies summed), and its terms' document
frequencies summed over the shards. Both are kept: the plan and statistics per query
until a shard is written (``Prepared``), and each shard's frequencies per term until
that shard is written (``term_cache``), so a query whose terms every shard has
counted asks nothing. A first page may leave the statistics to its rank round
(``Deferred``: summed on the workers, ``cluster.rounds``).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import StoredSynonyms, SynonymTable
from searchlib.cluster.replicas import ReplicaSet
from searchlib.cluster.term_cache import ShardTermCache
from searchlib.cluster.vocabulary import (
    NO_VOCABULARY,
    ClusterVocabulary,
    NeedsVocabulary,
    PreparedVocabulary,
    restricted,
)
from searchlib.query.parse import Bool, parse_query
from searchlib.query.plan import Filter, Plan, compile_query
from searchlib.query.ranking import Ranking
from searchlib.query.search import filter_plan
from searchlib.query.shard import ShardPreparation, ShardStatistics, plan_terms
from searchlib.query.statistics import GlobalStatistics, gather_statistics

__all__ = ["STATISTICS_CACHE", "Deferred", "Prepared", "QueryPreparation"]

STATISTICS_CACHE = 1024  # queries whose preparation is kept


@dataclass
class Prepared:
    """A query prepared: each shard's answer, from the shard generations named."""

    generations: tuple[int, ...]
    answers: dict[int, ShardPreparation]
    plan: Plan
    statistics: GlobalStatistics | None


@dataclass
class Deferred:
    """Statistics left to the rank round: the plan's terms, the shard generations
    they are for, and the query's key in the cache of prepared queries."""

    keys: list[tuple[str, str]]
    generations: tuple[int, ...]
    cache_key: str
    parts: dict[int, ShardStatistics | None]  # by shard: those known (None: not)


class QueryPreparation:
    """A cluster client's compiled queries and statistics, kept across searches."""

    def __init__(self, replicas: ReplicaSet) -> None:
        self.replicas = replicas
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()  # searches may run in many threads
        self._analyzer: Analyzer | None = None
        # The shards' synonyms (every shard holds the same), fetched once; a
        # ``ClusterIndex.set_synonyms`` forgets them.
        self._synonym_data: Any = None
        self._synonyms = StoredSynonyms()
        self.terms = ShardTermCache()

    @property
    def analyzer(self) -> Analyzer:
        """The index's analyzer (every shard holds the same), fetched once."""
        if self._analyzer is None:
            self._analyzer = self.replicas.read(0, "analyzer")
        return self._analyzer

    def synonyms(self) -> SynonymTable:
        """The cluster's synonyms, read by its analyzer."""
        if self._synonym_data is None:
            self._synonym_data = self.replicas.read(0, "synonym_data")
        return self._synonyms.table(self._synonym_data, self.analyzer, where="the cluster")

    def forget_synonyms(self) -> None:
        with self._lock:
            self._synonym_data = None
            self._prepared.clear()

    def prepare(
        self,
        query: str | Bool,
        filters: dict[str, list[str]],
        bounds: tuple[int | None, int | None],
        ranking: Ranking,
        synonyms: bool = True,
        gather: bool = True,
        defer: bool = False,
    ) -> tuple[Plan, GlobalStatistics | None, dict[int, str], Deferred | None]:
        """The query compiled once and its statistics summed over the shards (None
        for an index of one shard, or when not ``gather``: each shard its own).
        ``defer``: statistics no shard has counted yet are left to the rank round
        (``Deferred``: the workers may sum them there, ``cluster.rounds``).

        One step on the shards does both (``ShardSearcher.prepare``), and only on the
        shards written since this query was last prepared: each shard's answer is
        kept with the shard's generation in the catalog. A query with no prefix or
        fuzzy word that needs no statistics asks the shards nothing."""
        # The plan and statistics do not depend on recency (whose origin moves).
        compiled = replace(ranking, recency=None)
        key = repr((query, sorted(filters.items()), bounds, compiled, synonyms, gather))
        self.replicas.refresh()
        catalog = self.replicas.catalog
        generations = tuple(catalog.shard_generation(s) for s in range(catalog.shards))
        with self._lock:
            cached = self._prepared.get(key)
            if cached is not None and cached.generations == generations:
                self._prepared.move_to_end(key)
                return cached.plan, cached.statistics, {}, None
        failures: dict[int, str] = {}
        tree = parse_query(query) if isinstance(query, str) else query
        table = self.synonyms() if synonyms else None
        restrictions = filter_plan(filters, bounds)
        gathering = gather and catalog.shards > 1
        answers = {} if cached is None else dict(cached.answers)
        plan: Plan | None = None
        statistics: GlobalStatistics | None = None
        moved = [
            s for s in range(catalog.shards)
            if s not in answers or cached is None or cached.generations[s] != generations[s]
        ]  # fmt: skip
        # A query with no prefix or fuzzy word compiles here alone.
        with contextlib.suppress(NeedsVocabulary):
            plan = compile_query(tree, NO_VOCABULARY, self.analyzer, ranking, restrictions, table)
        if plan is not None and gathering and plan.root is not None:
            # Its words need no expansion: only the statistics of its terms, from the
            # shards that have not counted them all since they were last written.
            keys = sorted(set(plan_terms(plan.root)))
            parts = {s: self.terms.lookup(s, generations[s], keys) for s in range(catalog.shards)}
            if defer and any(part is None for part in parts.values()):
                return plan, None, {}, Deferred(keys, generations, key, parts)
            statistics, failures = self.term_statistics(keys, generations, parts)
            answers = {}
        elif plan is None:
            if moved:
                step = ("prepare", tree, restrictions, ranking, table is not None)
                fresh, failures = self.replicas.scatter(dict.fromkeys(moved, step))
                answers.update(fresh)
                for shard in failures:
                    answers.pop(shard, None)
            plan, statistics = self._compile(tree, restrictions, ranking, table, answers, failures)
            if not gathering:
                statistics = None
        if not failures:  # a partial answer is never cached
            self.remember(key, Prepared(generations, answers, plan, statistics))
        return plan, statistics, failures, None

    def remember(self, key: str, prepared: Prepared) -> None:
        with self._lock:
            self._prepared[key] = prepared
            self._prepared.move_to_end(key)
            if len(self._prepared) > STATISTICS_CACHE:
                self._prepared.popitem(last=False)

    def term_statistics(
        self,
        keys: list[tuple[str, str]],
        generations: tuple[int, ...],
        parts: dict[int, ShardStatistics | None],
    ) -> tuple[GlobalStatistics, dict[int, str]]:
        """The statistics of ``keys`` summed over the shards: ``parts`` known, the
        rest asked of the shards that lack them (in one step) and kept."""
        parts = dict(parts)
        asked = [s for s, part in parts.items() if part is None]
        failures: dict[int, str] = {}
        if asked:
            fresh, failures = self.replicas.scatter(dict.fromkeys(asked, ("term_statistics", keys)))
            for shard, part in fresh.items():
                self.terms.store(shard, generations[shard], part)
                parts[shard] = part
        return gather_statistics(part for part in parts.values() if part), failures

    def _compile(
        self,
        tree: Bool,
        restrictions: list[Filter],
        ranking: Ranking,
        table: SynonymTable | None,
        answers: dict[int, ShardPreparation],
        failures: dict[int, str],
    ) -> tuple[Plan, GlobalStatistics]:
        """The plan from the shards' preparations, with the statistics of its terms;
        when an expansion was too wide to prepare in one step: expanded in steps, then
        the plan's statistics gathered in another."""
        if all(answer.complete for answer in answers.values()):
            prepared = PreparedVocabulary(answers.values())
            plan = compile_query(tree, prepared, self.analyzer, ranking, restrictions, table)
            gathered = gather_statistics(answer.statistics for answer in answers.values())
            statistics = restricted(gathered, plan)
            if statistics is not None:
                return plan, statistics
        else:
            vocabulary = ClusterVocabulary(self.replicas, failures)
            plan = compile_query(tree, vocabulary, self.analyzer, ranking, restrictions, table)
        calls = dict.fromkeys(range(self.replicas.catalog.shards), ("statistics", plan))
        parts, missing = self.replicas.scatter(calls)
        failures.update(missing)
        return plan, gather_statistics(parts.values())
