"""The rank round of a first page, one request per worker (``ShardHost.rank_round``).

A worker ranks the shards it was given, merges their keys (the same global statistics
make their scores comparable) and sends the hits of its own first few with them, so
the page needs no fetch round unless one worker holds more of it than expected.

Statistics without a round of their own: a worker that holds a replica of every
shard (replicas >= workers, say) can sum every shard's document
frequencies itself, exactly what the client would have gathered. Each worker then
reports the statistics it ranked with; should two disagree (a write committed on one
replica of a shard and not yet on another), the client ranks again with one set for
all, so scores are always comparable (``ScatterGather``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from searchlib.cluster.collapse import merged_keys
from searchlib.query.plan import Plan
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit
from searchlib.query.shard import ShardRanking, ShardSearcher, ShardStatistics
from searchlib.query.statistics import GlobalStatistics, gather_statistics

__all__ = [
    "OVERFLOW_ODDS",
    "WorkerAnswer",
    "WorkerRound",
    "answer_round",
    "prefetch_count",
]

# A worker prefetches as many hits as it holds of a page but for this probability
# (ranks spread evenly over the shards): more, and the page needs a fetch round.
OVERFLOW_ODDS = 0.02


@dataclass
class WorkerRound:
    """What one worker is asked in a rank round."""

    plan: Plan
    text: str | None  # the query as typed, for the suggestion (None: none)
    window: int  # keys each shard ranks
    sort: str
    ranking: Ranking
    exclude: str | None
    facets: tuple[str, ...]
    track_total: int | None
    hit_options: tuple[bool, bool, int]  # snippets, explain, snippet size
    ranked: list[tuple[int, int]]  # (shard, replica) this worker ranks
    prefetch: int  # hits of the worker's merged keys sent with them
    # The global statistics, or None: summed here from ``sources`` (a replica of
    # every shard, on this worker), for the terms ``keys``; no sources: each shard
    # ranks with its own (``statistics="shard"``).
    statistics: GlobalStatistics | None = None
    sources: list[tuple[int, int]] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class WorkerAnswer:
    """One worker's rankings by shard, the hits of its first keys, and (when it summed
    them) each shard's statistics and their sum, which it ranked with."""

    pages: dict[int, ShardRanking]
    hits: dict[int, list[Hit]]
    parts: dict[int, ShardStatistics] = field(default_factory=dict)
    statistics: GlobalStatistics | None = None


def prefetch_count(window: int, share: float) -> int:
    """The hits a worker ranking ``share`` of the shards sends with its keys: the
    fewest it holds of a ``window``-long page but with probability ``OVERFLOW_ODDS``
    (binomial: each rank on this worker with probability ``share``)."""
    if share >= 1.0 or window <= 0:
        return max(window, 0)
    # In logarithms: a page of 10,000 has binomial coefficients no float holds.
    whole, held, other = math.lgamma(window + 1), math.log(share), math.log1p(-share)
    beyond = 1.0  # P(holding more than ``count`` of the page)
    for count in range(window + 1):
        log_odds = whole - math.lgamma(count + 1) - math.lgamma(window - count + 1)
        beyond -= math.exp(log_odds + count * held + (window - count) * other)
        if beyond <= OVERFLOW_ODDS:
            return count
    return window


def answer_round(
    work: WorkerRound, searcher_of: Callable[[int, int], ShardSearcher]
) -> WorkerAnswer:
    """Rank ``work`` on this worker's replicas (``searcher_of(shard, replica)``, the
    current snapshot, read once per replica for the whole round)."""
    searchers: dict[int, ShardSearcher] = {}
    replica_of = dict(work.sources) | dict(work.ranked)  # a ranked shard: its own replica
    for shard, replica in replica_of.items():
        searchers[shard] = searcher_of(shard, replica)
    statistics = work.statistics
    parts: dict[int, ShardStatistics] = {}
    if statistics is None and work.sources:
        for shard in sorted(searchers):
            parts[shard] = searchers[shard].term_statistics(work.keys)
        statistics = gather_statistics(parts.values())
    pages: dict[int, ShardRanking] = {}
    for shard, _replica in work.ranked:
        pages[shard] = searchers[shard].rank(
            work.plan, work.text, work.window, work.sort, work.ranking, statistics,
            work.exclude, work.facets, work.track_total,
        )  # fmt: skip
    wanted: dict[int, list[tuple[str, int, float]]] = {}
    for _primary, score, shard, rank, doc_id in merged_keys(pages)[: work.prefetch]:
        wanted.setdefault(shard, []).append((doc_id, rank + 1, score))
    hits = {
        shard: searchers[shard].hits(keys, work.plan, work.ranking, statistics, *work.hit_options)
        for shard, keys in wanted.items()
    }
    if not parts:
        return WorkerAnswer(pages, hits)
    return WorkerAnswer(pages, hits, parts, statistics)
