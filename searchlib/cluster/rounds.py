"""The rank round of a first page, one request per worker (``ShardHost.rank_round``).

A worker ranks the shards it was given, merges their keys (the same global statistics
make their scores comparable) and sends the hits of its own first few with them, so
the page needs no fetch round unless one worker holds more of it than expected.

Statistics without a round of their own: a worker that holds a replica of every
shard (replicas >= workers, or few shards) can sum every shard's document
frequencies itself, exactly what the client would have gathered. Each worker then
reports the statistics it ranked with; should two disagree (a write committed on one
replica of a shard and not yet on another), the client ranks again with one set for
all, so scores are always comparable (``ScatterGather``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from searchlib.analysis import Analyzer
from searchlib.cluster.collapse import merged_keys
from searchlib.query.plan import Plan
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit
from searchlib.query.shard import ShardRanking, ShardSearcher, ShardStatistics
from searchlib.query.snippets import highlight_title, make_snippet
from searchlib.query.statistics import GlobalStatistics, gather_statistics

__all__ = [
    "OVERFLOW_ODDS",
    "WorkerAnswer",
    "WorkerRound",
    "answer_round",
    "prefetch_count",
    "snippet_count",
    "with_snippets",
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
    prefetch: int  # hits of the worker's merged keys sent with them...
    marked: int  # ...the first of them with snippets (the rest, if used, get theirs
    # on the client, from the stored text sent: less work where the page is made)
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
    bare: set[str] = field(default_factory=set)  # hits sent without their snippets
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


def snippet_count(window: int, share: float) -> int:
    """Of those, the hits a worker marks the snippets of: its even share of the page
    (the client marks any others it uses, from the stored text sent)."""
    return min(window, math.ceil(window * share))


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
    snippets, explain, size = work.hit_options
    wanted: dict[tuple[int, bool], list[tuple[str, int, float]]] = {}
    chosen = merged_keys(pages)[: work.prefetch]
    for n, (_primary, score, shard, rank, doc_id) in enumerate(chosen):
        marked = n < work.marked or explain or not snippets
        wanted.setdefault((shard, marked), []).append((doc_id, rank + 1, score))
    hits: dict[int, list[Hit]] = {}
    bare: set[str] = set()
    for (shard, marked), keys in wanted.items():
        options = work.hit_options if marked else (False, explain, size)
        found = searchers[shard].hits(keys, work.plan, work.ranking, statistics, *options)
        hits.setdefault(shard, []).extend(found)
        if not marked:
            bare.update(hit.id for hit in found)
    if not parts:
        return WorkerAnswer(pages, hits, bare)
    return WorkerAnswer(pages, hits, bare, parts, statistics)


def with_snippets(hit: Hit, plan: Plan, analyzer: Analyzer, size: int) -> Hit:
    """A hit sent bare (``WorkerAnswer.bare``) with its snippet and title marked, as
    its shard would have made them (the same analyzer, from its stored text)."""
    return replace(
        hit,
        snippet=make_snippet(hit.fields, analyzer, plan.highlight, size=size),
        title_snippet=highlight_title(hit.fields["title"], analyzer, plan.highlight),
    )
