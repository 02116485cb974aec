"""Exact search over a cluster's shards, in scatter-gather steps (``query.shard``).

1. statistics: every shard reports the plan's document frequencies and its field
   totals; the client sums them (cached per query until the catalog's generation
   moves on, that is until a write);
2. rank: every shard scores its matches with those global statistics and returns its
   first ``offset + limit`` keys; the client merges them (coordination or date, then
   score, then shard and shard order);
3. hits: only the final page's hits (stored fields, snippets) come from their shards.

Each step is sent to every shard at once. Totals and facets are summed from every
shard's complete counts. Shards that did not answer are listed in ``Results.shards``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from time import perf_counter
from typing import Any

from searchlib.cluster.replicas import ReplicaSet
from searchlib.query.parse import Bool
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit, Results
from searchlib.query.search import FACET_LIMIT
from searchlib.query.statistics import GlobalStatistics, gather_statistics

__all__ = ["STATISTICS_CACHE", "ScatterGather"]

STATISTICS_CACHE = 1024  # queries whose gathered statistics are kept per generation


class ScatterGather:
    """The search side of a ``ClusterIndex``, with its statistics cache."""

    def __init__(self, replicas: ReplicaSet) -> None:
        self.replicas = replicas
        self._statistics: OrderedDict[str, GlobalStatistics] = OrderedDict()
        self._statistics_generation = -1
        self._statistics_lock = threading.Lock()  # searches may run in many threads

    def statistics_for(
        self, key: str, query: str | Bool, args: tuple[Any, ...]
    ) -> tuple[GlobalStatistics, dict[int, str]]:
        generation = self.replicas.refresh()
        with self._statistics_lock:
            if generation != self._statistics_generation:
                self._statistics.clear()
                self._statistics_generation = generation
            cached = self._statistics.get(key)
            if cached is not None:
                self._statistics.move_to_end(key)
                return cached, {}
        calls = dict.fromkeys(range(self.replicas.catalog.shards), ("statistics", query, *args))
        answers, failures = self.replicas.scatter(calls)
        gathered = gather_statistics(answers.values())
        if not failures:  # a partial sum is never cached
            with self._statistics_lock:
                if generation == self._statistics_generation:
                    self._statistics[key] = gathered
                    if len(self._statistics) > STATISTICS_CACHE:
                        self._statistics.popitem(last=False)
        return gathered, failures

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
    ) -> Results:
        failures = dict(failures or {})
        key = repr((query, sorted(filters.items()), bounds, ranking))
        statistics, missing = self.statistics_for(key, query, (filters, bounds, ranking))
        failures.update(missing)
        calls = {
            shard: ("rank", query, offset + limit, filters, bounds, sort, ranking, statistics,
                    exclude)
            for shard in range(self.replicas.catalog.shards) if shard not in failures
        }  # fmt: skip
        pages, missing = self.replicas.scatter(calls)
        failures.update(missing)
        total, suggestion = 0, None
        facets: dict[str, dict[str, int]] = {"category": {}, "source": {}}
        keys: list[tuple[float, float, int, int, str]] = []
        for shard, page in sorted(pages.items()):
            total += page.total
            for name, counts in page.facets.items():
                for value, count in counts.items():
                    facets[name][value] = facets[name].get(value, 0) + count
            suggestion = suggestion or page.suggestion
            keys += [(p, s, shard, i, doc_id) for i, (p, s, doc_id) in enumerate(page.keys)]
        keys.sort(key=lambda k: (-k[0], -k[1], k[2], k[3]))
        chosen = keys[offset : offset + limit]
        owners: dict[int, list[tuple[str, int, float]]] = {}
        for rank, (_p, score, shard, _i, doc_id) in enumerate(chosen, start=offset + 1):
            owners.setdefault(shard, []).append((doc_id, rank, score))
        found, missing = self.replicas.scatter(
            {shard: ("hits", mine, query, ranking, statistics, *hit_options)
             for shard, mine in owners.items()}
        )  # fmt: skip
        failures.update(missing)
        hits: dict[str, Hit] = {hit.id: hit for part in found.values() for hit in part}
        page_hits = [hits[k[4]] for k in chosen if k[4] in hits]
        top_facets = {
            name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT])
            for name, counts in facets.items()
        }
        took = (perf_counter() - started) * 1000
        results = Results(label, page_hits, total, took, top_facets, suggestion, offset, limit)
        results.shards = {
            "total": self.replicas.catalog.shards,
            "successful": self.replicas.catalog.shards - len(failures),
            "failed": len(failures),
            "failures": [{"shard": s, "reason": r} for s, r in sorted(failures.items())],
        }
        return results
