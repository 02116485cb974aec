"""One shard replica, kept open on a Dask worker: a Dask actor around an ``Index``.

The actor is created on the worker that holds the replica and lives as long as that
worker. Every method answers from the replica's own index directory, so a replica
whose worker died is brought back by creating the actor again (on the same or another
worker that can read the directory): the index reopens from its last commit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.index import Index
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit
from searchlib.query.shard import ShardRanking, ShardStatistics
from searchlib.query.statistics import Statistics

__all__ = ["ShardReplica"]


class ShardReplica:
    """The actor: ``path`` is created with ``analyzer`` if it holds no index yet."""

    def __init__(self, path: str, analyzer: Analyzer | None = None) -> None:
        self.path = Path(path)
        self.index = Index.open_or_create(self.path, analyzer=analyzer, workers=1)

    def pid(self) -> int:
        return os.getpid()

    def generation(self) -> int:
        """The commit generation this replica serves."""
        return int(self.index.shard_searcher().snapshot.generation)

    def add(self, records: list[dict[str, Any]]) -> int:
        return self.index.add(records)

    def delete(self, ids: list[str]) -> int:
        return self.index.delete(ids)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.index.get(doc_id)

    def count(self) -> int:
        return len(self.index)

    def stats(self) -> dict[str, Any]:
        return self.index.stats()

    def check(self) -> list[str]:
        return self.index.check()

    def statistics(
        self,
        query: str,
        filters: Mapping[str, list[str]],
        bounds: tuple[int | None, int | None],
        ranking: Ranking,
    ) -> ShardStatistics:
        return self.index.shard_searcher().statistics(query, filters, bounds, ranking)

    def rank(
        self,
        query: str,
        wanted: int,
        filters: Mapping[str, list[str]],
        bounds: tuple[int | None, int | None],
        sort: str,
        ranking: Ranking,
        statistics: Statistics,
    ) -> ShardRanking:
        searcher = self.index.shard_searcher()
        return searcher.rank(query, wanted, filters, bounds, sort, ranking, statistics)

    def hits(
        self,
        keys: list[tuple[str, int, float]],
        query: str,
        ranking: Ranking,
        statistics: Statistics,
        snippets: bool,
        explain: bool,
        snippet_size: int,
    ) -> list[Hit]:
        return self.index.shard_searcher().hits(
            keys,
            query,
            ranking,
            statistics,
            snippets=snippets,
            explain=explain,
            snippet_size=snippet_size,
        )

    def close(self) -> None:
        self.index.close()
