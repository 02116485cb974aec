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
2. rank, one request per worker (``cluster.rounds``): each worker scores its shards'
   matches with the global statistics, merges their keys and sends them with the
   hits of its first few. A query whose statistics are not cached needs no round
   of its own when every worker holds a replica of every shard: each worker sums
   them over its replicas (the client checks the workers agree, else ranks again
   with one set); otherwise they are gathered first (1.). Elsewhere (a later page,
   collapsing, a lost worker), every shard is asked its ranking in turn;
3. fetch: only the page's hits the client still lacks (stored fields, snippets)
   come from their shards, each from the replica and the commit that ranked it
   (point in time); usually there are none, and the round is skipped.

Each step is sent to every shard at once. Totals and facets are summed from every
shard's complete counts. Shards that did not answer are listed in ``Results.shards``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import SynonymTable
from searchlib.cluster.collapse import collapsed_page, merged_keys, too_few_groups
from searchlib.cluster.prepare import Deferred, Prepared, QueryPreparation
from searchlib.cluster.replicas import ReplicaSet, WorkerPlan
from searchlib.cluster.rounds import WorkerRound, prefetch_count
from searchlib.query.collapse import (
    MAX_COLLAPSE_WINDOW,
    Duplicate,
    collapse_window,
)
from searchlib.query.collectors import NOTHING_MORE, Collectors, top_facets
from searchlib.query.parse import Bool
from searchlib.query.plan import Plan
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit, Results
from searchlib.query.statistics import GlobalStatistics
from searchlib.query.suggest import Evidence, choose, sum_evidence

__all__ = ["PREFETCH_SHARE", "ScatterGather"]

# Where a first page is asked shard by shard (a worker lost), the hits each shard
# sends with its ranking: this share of the page spread over the shards (twice its
# even part: 5 of 10 for 4 shards, so a page needs a fetch round only when one shard
# holds more than half of it).
PREFETCH_SHARE = 2.0


@dataclass
class _Ranked:
    """A rank round's answers: each shard's ranking and the hits sent with them, the
    replica that ranked each shard, the statistics they used."""

    pages: dict[int, Any]
    hits: dict[int, list[Hit]]
    rankers: dict[int, int]
    statistics: GlobalStatistics | None  # None: each shard ranked with its own


class ScatterGather:
    """The search side of a ``ClusterIndex``: one compile, global statistics (cached
    with the plan per query until the next write), scatter-gather of ranks and hits."""

    def __init__(self, replicas: ReplicaSet) -> None:
        self.replicas = replicas
        self.preparation = QueryPreparation(replicas)

    @property
    def analyzer(self) -> Analyzer:
        """The index's analyzer (every shard holds the same), fetched once."""
        return self.preparation.analyzer

    def synonyms(self) -> SynonymTable:
        return self.preparation.synonyms()

    def forget_synonyms(self) -> None:
        self.preparation.forget_synonyms()

    def _first_page(
        self,
        work: WorkerRound,
        deferred: Deferred | None,
        failures: dict[int, str],
        rankers: dict[int, int],
    ) -> _Ranked:
        """A first page ranked, by one request per worker where it can be: the
        statistics summed on the workers (``deferred``, when each holds every shard)
        or gathered first (one round); else each shard asked in turn (``scatter``,
        which fails over replica by replica). ``failures`` and ``rankers`` are
        filled in."""
        statistics = work.statistics
        plans = None if failures else self.replicas.worker_rounds(deferred is not None)
        if plans is None and deferred is not None:  # not every worker holds every shard
            statistics, deferred = self._gathered(deferred, work.plan, failures), None
            plans = None if failures else self.replicas.worker_rounds(False)
        if plans is not None:
            ranked = self._worker_round(replace(work, statistics=statistics), deferred, plans)
            if isinstance(ranked, GlobalStatistics):  # the workers' disagreed: one set
                statistics, deferred = ranked, None
                plans = self.replicas.worker_rounds(False)
                if plans is not None:
                    ranked = self._worker_round(replace(work, statistics=statistics), None, plans)
            if isinstance(ranked, _Ranked):
                rankers.update(ranked.rankers)
                return ranked
        if statistics is None and deferred is not None:
            statistics = self._gathered(deferred, work.plan, failures)
        shards = self.replicas.catalog.shards
        window = work.window
        prefetch = min(window, -(-int(PREFETCH_SHARE * window) // shards))
        step = ("rank_page", work.plan, work.text, window, work.sort, work.ranking, statistics)
        answers, missing = self.replicas.scatter(
            {shard: (*step, work.exclude, work.facets, work.track_total, prefetch,
                     *work.hit_options)
             for shard in range(shards) if shard not in failures},
            answered=rankers,
        )  # fmt: skip
        failures.update(missing)
        pages = {shard: ranked for shard, (ranked, _hits) in answers.items()}
        found = {shard: hits for shard, (_ranked, hits) in answers.items()}
        return _Ranked(pages, found, dict(rankers), statistics)

    def _gathered(
        self, deferred: Deferred, plan: Plan, failures: dict[int, str]
    ) -> GlobalStatistics:
        """The statistics left to the rank round, gathered in a round of their own
        instead (``failures`` filled in), and kept with the plan as ``prepare`` keeps
        them when nothing failed."""
        statistics, missing = self.preparation.term_statistics(
            deferred.keys, deferred.generations, deferred.parts
        )
        failures.update(missing)
        if not missing:
            prepared = Prepared(deferred.generations, {}, plan, statistics)
            self.preparation.remember(deferred.cache_key, prepared)
        return statistics

    def _worker_round(
        self, work: WorkerRound, deferred: Deferred | None, plans: dict[str, WorkerPlan]
    ) -> _Ranked | GlobalStatistics | None:
        """A first page ranked in one request per worker (``cluster.rounds``, the
        workers of ``plans``), with ``work.statistics``, or, ``deferred``, the
        statistics each worker sums over its replicas of every shard. None: a
        worker did not answer (each shard is then asked in turn, failing over);
        statistics: the workers summed different ones (a write between two
        replicas' commits), rank again with these."""
        shards = self.replicas.catalog.shards
        messages = {}
        for address, part in plans.items():
            share = len(part.ranked) / shards
            mine = replace(
                work,
                ranked=part.ranked,
                prefetch=prefetch_count(work.window, share),
                sources=part.sources,
                keys=deferred.keys if deferred is not None else [],
            )
            messages[address] = pickle.dumps(mine, protocol=pickle.HIGHEST_PROTOCOL)
        answers = self.replicas.rank_round(messages)
        if answers is None:
            return None
        statistics = work.statistics
        if statistics is None and deferred is not None:
            summed = [answer.statistics for answer in answers.values()]
            if any(other != summed[0] for other in summed[1:]):
                return summed[0]
            statistics = summed[0]
            parts = next(iter(answers.values())).parts
            for shard, shard_part in parts.items():
                self.preparation.terms.store(shard, deferred.generations[shard], shard_part)
            self.preparation.remember(
                deferred.cache_key, Prepared(deferred.generations, {}, work.plan, statistics)
            )
        pages: dict[int, Any] = {}
        found: dict[int, list[Hit]] = {}
        rankers: dict[int, int] = {}
        for address, answer in answers.items():
            pages.update(answer.pages)
            found.update(answer.hits)
            rankers.update(plans[address].ranked)
        return _Ranked(pages, found, rankers, statistics)

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
        first_page = offset == 0 and collapse is None
        plan, statistics, missing, deferred = self.preparation.prepare(
            query, filters, bounds, ranking, synonyms, not shard_statistics, first_page
        )
        failures.update(missing)
        text = query if isinstance(query, str) and collectors.suggest else None
        fields = collectors.facets
        found: dict[int, list[Hit]] = {}
        rankers: dict[int, int] = {}  # the replica that ranked each shard's part
        window = offset + limit if collapse is None else collapse_window(offset + limit)
        shards = self.replicas.catalog.shards
        if plan.root is None:
            pages: dict[int, Any] = {}
        elif statistics is None and deferred is None and collapse is None and shards == 1:
            # One shard: its statistics are global, the whole search in one step.
            whole = ("page", plan, text, offset, limit, sort, ranking, exclude)
            answers, missing = self.replicas.scatter(
                {shard: (*whole, *hit_options, fields, collectors.count_up_to)
                 for shard in range(shards) if shard not in failures}
            )  # fmt: skip
            pages = {shard: ranked for shard, (ranked, _hits) in answers.items()}
            found = {shard: hits for shard, (_ranked, hits) in answers.items()}
        elif first_page:
            work = WorkerRound(
                plan, text, window, sort, ranking, exclude, fields, collectors.count_up_to,
                hit_options, [], 0, statistics,
            )  # fmt: skip
            first = self._first_page(work, deferred, failures, rankers)
            pages, found, statistics = first.pages, first.hits, first.statistics
            missing = {}
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
        if lacking:
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
