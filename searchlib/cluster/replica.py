"""One shard replica, kept open on a Dask worker: a Dask actor around an ``Index``.

The actor is created on the worker that holds the replica and lives as long as that
worker. Every method answers from the replica's own index directory, so a replica
whose worker died is brought back by creating the actor again (on the same or another
worker that can read the directory): the index reopens from its last commit.

Dask runs an actor's plain methods one at a time on one thread, so a search would
wait for the whole of a write before it. The methods are coroutines instead (Dask
awaits them on the worker's event loop) that hand the work to two pools of the
replica's own: writes one at a time on the write thread, reads on the read threads,
each read from the index's current snapshot while a write runs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from searchlib.analysis import Analyzer, Synonyms
from searchlib.errors import QueryError
from searchlib.index import Index
from searchlib.query.shard import SEARCH_STEPS

__all__ = ["READ_THREADS", "ShardReplica"]

READ_THREADS = 2  # searches of one replica answered at once
T = TypeVar("T")


class ShardReplica:
    """The actor: ``path`` is created with ``analyzer`` if it holds no index yet."""

    def __init__(self, path: str, analyzer: Analyzer | None = None) -> None:
        self.path = Path(path)
        self.index = Index.open_or_create(self.path, analyzer=analyzer, workers=1)
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="searchlib-read")
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="searchlib-write")

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, function, *args)

    async def _write(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writes, function, *args)

    # -- reads: from the current snapshot, beside a running write ---------------------

    async def analyzer(self) -> Analyzer:
        """The analyzer stored in this replica's index (the cluster's)."""
        return self.index.analyzer

    async def synonym_data(self) -> list[dict[str, list[str]]]:
        """The synonyms this replica's index holds, as data."""
        return await self._read(lambda: self.index.synonyms.to_data())

    async def pid(self) -> int:
        return os.getpid()

    async def generation(self) -> int:
        """The commit generation this replica serves."""
        return await self._read(lambda: int(self.index.shard_searcher().snapshot.generation))

    async def count_existing(self, ids: list[str]) -> int:
        return await self._read(self.index.count_existing, ids)

    async def get(self, doc_id: str) -> dict[str, Any] | None:
        return await self._read(self.index.get, doc_id)

    async def count(self) -> int:
        return await self._read(self.index.__len__)

    async def stats(self) -> dict[str, Any]:
        return await self._read(self.index.stats)

    async def check(self) -> list[str]:
        return await self._read(self.index.check)

    async def search_step(self, step: str, *args: Any) -> Any:
        """One step of a distributed search (``ShardSearcher.statistics``, ``rank`` or
        ``hits``) on this replica's current snapshot."""
        if step not in SEARCH_STEPS:
            raise QueryError(f"unknown search step {step!r} (one of {SEARCH_STEPS})")
        return await self._read(lambda: getattr(self.index.shard_searcher(), step)(*args))

    # -- writes: one at a time, on the write thread -----------------------------------

    async def set_synonyms(self, data: list[dict[str, list[str]]]) -> None:
        await self._write(lambda: self.index.set_synonyms(Synonyms.from_data(data)))

    async def add(self, records: list[dict[str, Any]]) -> int:
        return await self._write(self.index.add, records)

    async def apply(self, adds: list[dict[str, Any]], deletes: list[str]) -> tuple[int, int]:
        """Adds (upserts) and deletes in one atomic commit of this replica."""

        def commit() -> tuple[int, int]:
            batch = self.index.batch()
            batch.add(adds)
            batch.delete(deletes)
            return batch.commit()

        return await self._write(commit)

    async def delete(self, ids: list[str]) -> int:
        return await self._write(self.index.delete, ids)

    async def backup(self, destination: str) -> str:
        """A consistent copy of this replica (repairing another replica of its shard)."""
        return await self._write(lambda: str(self.index.backup(destination)))

    async def close(self) -> None:
        """Close the index after the running write and reads are done."""

        def close() -> None:
            self._reads.shutdown(wait=True)
            self.index.close()

        await self._write(close)
        self._writes.shutdown(wait=False)
