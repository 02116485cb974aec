"""Exact search over a cluster's shards, in scatter-gather steps (``query.shard``).

0. compile, once, on the client: the index's analyzer, and for prefixes and fuzzy
   words the shards' vocabularies summed (``ClusterVocabulary``);
1. prepare, one step: every shard reports its counts for the query's expansions and
   the document frequencies of every term the query may score, with its field totals;
   the client sums them, compiles and keeps the frequencies of the plan's terms
   (cached per query and per shard: a write to a shard refreshes that shard's part);
   a query whose words need no expansion compiles on the client and asks only its
   terms' statistics, of the shards that have not counted them all since they were
   last written (``term_cache``: none, often, and the step is skipped);
2. rank: every shard scores its matches with those global statistics and returns its
   first ``offset + limit`` keys; the client merges them (coordination or date, then
   score, then shard and shard order). For a first page, each shard sends the hits
   of its first few keys with them (``PREFETCH_SHARE``), from the same snapshot;
3. fetch: only the page's hits the client still lacks (stored fields, snippets)
   come from their shards, each from the replica and the commit that ranked it
   (point in time); usually there are none, and the round is skipped.

Each step is sent to every shard at once. Totals and facets are summed from every
shard's complete counts. Shards that did not answer are listed in ``Results.shards``.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import StoredSynonyms, SynonymTable
from searchlib.cluster.collapse import collapsed_page, merged_keys, too_few_groups
from searchlib.cluster.replicas import ReplicaSet
from searchlib.cluster.term_cache import ShardTermCache
from searchlib.engine.snapshot import most_frequent, nearest
from searchlib.query.collapse import (
    MAX_COLLAPSE_WINDOW,
    Duplicate,
    collapse_window,
)
from searchlib.query.collectors import NOTHING_MORE, Collectors, top_facets
from searchlib.query.parse import Bool, parse_query
from searchlib.query.plan import Filter, Plan, compile_query
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit, Results
from searchlib.query.search import filter_plan
from searchlib.query.shard import ShardPreparation, plan_terms
from searchlib.query.statistics import GlobalStatistics, gather_statistics
from searchlib.query.suggest import Evidence, choose, sum_evidence

__all__ = ["STATISTICS_CACHE", "ClusterVocabulary", "ScatterGather"]

STATISTICS_CACHE = 1024  # queries whose preparation is kept
# A first page's hits each shard sends with its ranking: this share of the page,
# spread over the shards (twice its even part: 5 of 10 for 4 shards, so a page
# needs a fetch round only when one shard holds more than half of it).
PREFETCH_SHARE = 2.0


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


class _NeedsVocabulary(Exception):
    """A query with prefix or fuzzy words: the shards' vocabularies are needed."""


class _NoVocabulary:
    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        raise _NeedsVocabulary

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]:
        raise _NeedsVocabulary


_NO_VOCABULARY = _NoVocabulary()


class _PreparedVocabulary:
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


def _restricted(statistics: GlobalStatistics, plan: Plan) -> GlobalStatistics | None:
    """Only the frequencies of the terms ``plan`` scores (what every shard is sent);
    None if the preparations lack one (then they are gathered for the plan itself)."""
    wanted = set(plan_terms(plan.root)) if plan.root is not None else set()
    found = statistics.doc_freqs
    if not wanted <= found.keys():
        return None
    freqs = {key: found[key] for key in wanted}
    return GlobalStatistics(statistics.doc_counts, statistics.total_lengths, freqs)


@dataclass
class _Prepared:
    """A query prepared: each shard's answer, from the shard generations named."""

    generations: tuple[int, ...]
    answers: dict[int, ShardPreparation]
    plan: Plan
    statistics: GlobalStatistics | None


class ScatterGather:
    """The search side of a ``ClusterIndex``: one compile, global statistics (cached
    with the plan per query until the next write), scatter-gather of ranks and hits."""

    def __init__(self, replicas: ReplicaSet) -> None:
        self.replicas = replicas
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()
        self._lock = threading.Lock()  # searches may run in many threads
        self._analyzer: Analyzer | None = None
        # The shards' synonyms (every shard holds the same), fetched once; a
        # ``ClusterIndex.set_synonyms`` forgets them.
        self._synonym_data: Any = None
        self._synonyms = StoredSynonyms()
        self._terms = ShardTermCache()

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
    ) -> tuple[Plan, GlobalStatistics | None, dict[int, str]]:
        """The query compiled once and its statistics summed over the shards (None
        for an index of one shard, or when not ``gather``: each shard its own).

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
                return cached.plan, cached.statistics, {}
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
        with contextlib.suppress(_NeedsVocabulary):
            plan = compile_query(tree, _NO_VOCABULARY, self.analyzer, ranking, restrictions, table)
        if plan is not None and gathering and plan.root is not None:
            # Its words need no expansion: only the statistics of its terms, from the
            # shards that have not counted them all since they were last written.
            keys = sorted(set(plan_terms(plan.root)))
            parts = {s: self._terms.lookup(s, generations[s], keys) for s in range(catalog.shards)}
            asked = [s for s, part in parts.items() if part is None]
            if asked:
                fresh, failures = self.replicas.scatter(
                    dict.fromkeys(asked, ("term_statistics", keys))
                )
                for shard, part in fresh.items():
                    self._terms.store(shard, generations[shard], part)
                    parts[shard] = part
            answers = {s: ShardPreparation({}, part) for s, part in parts.items() if part}
            statistics = gather_statistics(answer.statistics for answer in answers.values())
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
            with self._lock:
                self._prepared[key] = _Prepared(generations, answers, plan, statistics)
                self._prepared.move_to_end(key)
                if len(self._prepared) > STATISTICS_CACHE:
                    self._prepared.popitem(last=False)
        return plan, statistics, failures

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
            prepared = _PreparedVocabulary(answers.values())
            plan = compile_query(tree, prepared, self.analyzer, ranking, restrictions, table)
            gathered = gather_statistics(answer.statistics for answer in answers.values())
            statistics = _restricted(gathered, plan)
            if statistics is not None:
                return plan, statistics
        else:
            vocabulary = ClusterVocabulary(self.replicas, failures)
            plan = compile_query(tree, vocabulary, self.analyzer, ranking, restrictions, table)
        calls = dict.fromkeys(range(self.replicas.catalog.shards), ("statistics", plan))
        parts, missing = self.replicas.scatter(calls)
        failures.update(missing)
        return plan, gather_statistics(parts.values())

    def run(
        self,
        label: str,
        query: str | Bool,
        limit: int,
        offset: int,
        filters: dict[str, list[str]],
        bounds: tuple[int | None, int | None],
        sort: str,
        ranking: Ranking,
        hit_options: tuple[bool, bool, int],
        started: float,
        *,
        exclude: str | None = None,
        failures: dict[int, str] | None = None,
        collectors: Collectors = NOTHING_MORE,
        synonyms: bool = True,
        shard_statistics: bool = False,
        collapse: int | None = None,
    ) -> Results:
        """``collapse``: the signature bytes copies share (``query.collapse``): the
        shards rank a window of candidates with their signatures, grouped here."""
        failures = dict(failures or {})
        plan, statistics, missing = self.prepare(
            query, filters, bounds, ranking, synonyms, gather=not shard_statistics
        )
        failures.update(missing)
        text = query if isinstance(query, str) and collectors.suggest else None
        fields = collectors.facets
        found: dict[int, list[Hit]] = {}
        rankers: dict[int, int] = {}  # the replica that ranked each shard's part
        window = offset + limit if collapse is None else collapse_window(offset + limit)
        if plan.root is None:
            pages: dict[int, Any] = {}
        elif statistics is None and collapse is None:
            # One shard (its statistics are global), or each shard ranking with its
            # own: the whole search in one step, each shard's top offset + limit
            # with their hits, merged here.
            shards = self.replicas.catalog.shards
            first, count = (offset, limit) if shards == 1 else (0, offset + limit)
            whole = ("page", plan, text, first, count, sort, ranking, exclude)
            answers, missing = self.replicas.scatter(
                {shard: (*whole, *hit_options, fields, collectors.count_up_to)
                 for shard in range(shards) if shard not in failures}
            )  # fmt: skip
            pages = {shard: ranked for shard, (ranked, _hits) in answers.items()}
            found = {shard: hits for shard, (_ranked, hits) in answers.items()}
        elif collapse is None and offset == 0:
            shards = self.replicas.catalog.shards
            prefetch = min(window, -(-int(PREFETCH_SHARE * window) // shards))
            step = ("rank_page", plan, text, window, sort, ranking, statistics, exclude)
            answers, missing = self.replicas.scatter(
                {shard: (*step, fields, collectors.count_up_to, prefetch, *hit_options)
                 for shard in range(shards) if shard not in failures},
                answered=rankers,
            )  # fmt: skip
            pages = {shard: ranked for shard, (ranked, _hits) in answers.items()}
            found = {shard: hits for shard, (_ranked, hits) in answers.items()}
        else:
            ranked = ("rank", plan, text, window, sort, ranking, statistics, exclude)
            while True:
                calls = {
                    shard: (*ranked, fields, collectors.count_up_to, collapse is not None)
                    for shard in range(self.replicas.catalog.shards)
                    if shard not in failures
                }
                pages, missing = self.replicas.scatter(calls, answered=rankers)
                if collapse is None or not too_few_groups(pages, window, offset + limit, collapse):
                    break
                window = min(MAX_COLLAPSE_WINDOW, window * 4)
                ranked = ("rank", plan, text, window, sort, ranking, statistics, exclude)
        failures.update(missing)
        total, scored, relation, doc_count = 0, 0, "eq", 0
        evidence: list[Evidence] = []
        facets: dict[str, dict[str, int]] = {name: {} for name in fields}
        for _shard, page in sorted(pages.items()):
            total += page.total
            scored += page.scored
            if page.relation == "gte":
                relation = "gte"  # a shard counted a lower bound: so is the sum
            for name, counts in page.facets.items():
                for value, count in counts.items():
                    facets[name][value] = facets[name].get(value, 0) + count
            doc_count += page.doc_count
            if page.evidence is not None:
                evidence.append(page.evidence)
        suggestion = None
        if text is not None and evidence and doc_count:
            # The shards' frequencies summed: the suggestion one index would make.
            summed = sum_evidence(evidence)
            suggestion = choose(plan, text, summed, doc_count, found_nothing=not total)
        keys = merged_keys(pages)
        copies: dict[str, list[Duplicate]] = {}
        if collapse is None:
            chosen = keys[offset : offset + limit]
        else:
            chosen, copies = collapsed_page(keys[:window], pages, offset, limit, collapse)
        owners: dict[int, list[tuple[str, int, float]]] = {}
        for rank, (_p, score, shard, _i, doc_id) in enumerate(chosen, start=offset + 1):
            owners.setdefault(shard, []).append((doc_id, rank, score))
        have = {hit.id for part in found.values() for hit in part}
        lacking = {
            shard: [key for key in mine if key[0] not in have] for shard, mine in owners.items()
        }
        lacking = {shard: mine for shard, mine in lacking.items() if mine}
        if lacking and (statistics is not None or collapse is not None):
            # Point in time: each page's hits from the replica and commit that ranked them.
            fetched, missing = self.replicas.scatter(
                {shard: (pages[shard].generation, mine, plan, ranking, statistics, *hit_options)
                 for shard, mine in lacking.items()},
                "fetch",
                prefer=rankers,
            )  # fmt: skip
            failures.update(missing)
            for shard, part in fetched.items():
                found.setdefault(shard, []).extend(part)
        hits: dict[str, Hit] = {hit.id: hit for part in found.values() for hit in part}
        page_hits = [
            # A shard numbered its own hits; the client knows their copies.
            replace(hits[k[4]], rank=rank, duplicates=copies.get(k[4], hits[k[4]].duplicates))
            for rank, k in enumerate(chosen, start=offset + 1)
            if k[4] in hits
        ]
        took = (perf_counter() - started) * 1000
        results = Results(
            label, page_hits, total, took, top_facets(facets), suggestion, offset, limit
        )
        results.scored = scored
        results.total_relation = relation
        results.synonyms = plan.synonyms
        results.shards = {
            "total": self.replicas.catalog.shards,
            "successful": self.replicas.catalog.shards - len(failures),
            "failed": len(failures),
            "failures": [{"shard": s, "reason": r} for s, r in sorted(failures.items())],
        }
        return results
