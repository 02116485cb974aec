"""One shard replica, kept open on a Dask worker: a Dask actor around an ``Index``.

The actor is created on the worker that holds the replica and lives as long as that
worker. Every method answers from the replica's own index directory, so a replica
whose worker died is brought back by creating the actor again (on the same or another
worker that can read the directory): the index reopens from its last commit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from searchlib.analysis import Analyzer, Synonyms
from searchlib.errors import QueryError
from searchlib.index import Index
from searchlib.query.shard import SEARCH_STEPS

__all__ = ["ShardReplica"]


class ShardReplica:
    """The actor: ``path`` is created with ``analyzer`` if it holds no index yet."""

    def __init__(self, path: str, analyzer: Analyzer | None = None) -> None:
        self.path = Path(path)
        self.index = Index.open_or_create(self.path, analyzer=analyzer, workers=1)

    def analyzer(self) -> Analyzer:
        """The analyzer stored in this replica's index (the cluster's)."""
        return self.index.analyzer

    def synonym_data(self) -> list[dict[str, list[str]]]:
        """The synonyms this replica's index holds, as data."""
        return self.index.synonyms.to_data()

    def set_synonyms(self, data: list[dict[str, list[str]]]) -> None:
        self.index.set_synonyms(Synonyms.from_data(data))

    def pid(self) -> int:
        return os.getpid()

    def generation(self) -> int:
        """The commit generation this replica serves."""
        return int(self.index.shard_searcher().snapshot.generation)

    def add(self, records: list[dict[str, Any]]) -> int:
        return self.index.add(records)

    def apply(self, adds: list[dict[str, Any]], deletes: list[str]) -> tuple[int, int]:
        """Adds (upserts) and deletes in one atomic commit of this replica."""
        batch = self.index.batch()
        batch.add(adds)
        batch.delete(deletes)
        added, deleted = batch.commit()
        return added, deleted

    def delete(self, ids: list[str]) -> int:
        return self.index.delete(ids)

    def backup(self, destination: str) -> str:
        """A consistent copy of this replica (repairing another replica of its shard)."""
        return str(self.index.backup(destination))

    def count_existing(self, ids: list[str]) -> int:
        return self.index.count_existing(ids)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.index.get(doc_id)

    def count(self) -> int:
        return len(self.index)

    def stats(self) -> dict[str, Any]:
        return self.index.stats()

    def check(self) -> list[str]:
        return self.index.check()

    def search_step(self, step: str, *args: Any) -> Any:
        """One step of a distributed search (``ShardSearcher.statistics``, ``rank`` or
        ``hits``) on this replica's current snapshot."""
        if step not in SEARCH_STEPS:
            raise QueryError(f"unknown search step {step!r} (one of {SEARCH_STEPS})")
        return getattr(self.index.shard_searcher(), step)(*args)

    def close(self) -> None:
        self.index.close()
