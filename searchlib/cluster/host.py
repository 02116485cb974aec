"""The replicas one Dask worker keeps open: one actor per worker, ``ShardHost``.

A worker hosts several replicas (of different shards). They live in one actor so
that a round of a search sends one request per worker, carrying every step for that
worker's shards (``ShardHost.steps``), instead of one per shard. The client reaches a
replica through a ``ReplicaHandle``: the host's actor and the replica's (shard,
replica) pair, called like the replica itself (``handle.add(records).result()``).
A host whose worker died is gone with its replicas; the client opens them again on a
live worker (the index reopens from its last commit).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.cluster.replica import ShardReplica
from searchlib.errors import SearchlibError

__all__ = ["ReplicaHandle", "ReplicaNotOpen", "ShardHost"]

# One request of a round: (shard, replica, the replica's method, its arguments).
Request = tuple[int, int, str, tuple[Any, ...]]


class ReplicaNotOpen(SearchlibError):
    """The worker does not keep this replica open (it was restarted, say)."""


class ShardHost:
    """The actor on one worker, keeping its replicas open by (shard, replica)."""

    def __init__(self) -> None:
        self._replicas: dict[tuple[int, int], ShardReplica] = {}
        self._opening = asyncio.Lock()

    async def open(self, shard: int, replica: int, path: str, analyzer: Analyzer | None) -> None:
        """Open (or create, with ``analyzer``) the replica at ``path`` on this worker."""
        async with self._opening:
            if (shard, replica) not in self._replicas:
                loop = asyncio.get_running_loop()
                opened = await loop.run_in_executor(None, ShardReplica, path, analyzer)
                self._replicas[shard, replica] = opened

    def _replica(self, shard: int, replica: int) -> ShardReplica:
        found = self._replicas.get((shard, replica))
        if found is None:
            raise ReplicaNotOpen(f"replica {replica} of shard {shard} is not open on this worker")
        return found

    async def call(self, shard: int, replica: int, method: str, *args: Any) -> Any:
        """One replica's method (``ShardReplica``)."""
        if method.startswith("_"):
            raise ReplicaNotOpen(f"no replica method {method!r}")
        return await getattr(self._replica(shard, replica), method)(*args)

    async def steps(self, requests: list[Request]) -> list[tuple[bool, Any]]:
        """Every request of one round for this worker's replicas, run together:
        ``(True, answer)`` or ``(False, the exception)`` for each, in order."""
        calls = (self.call(shard, replica, name, *args) for shard, replica, name, args in requests)
        answers = await asyncio.gather(*calls, return_exceptions=True)
        return [(not isinstance(a, BaseException), a) for a in answers]

    async def close_replica(self, shard: int, replica: int) -> None:
        found = self._replicas.pop((shard, replica), None)
        if found is not None:
            await found.close()

    async def close(self) -> None:
        for key in list(self._replicas):
            await self.close_replica(*key)

    async def pid(self) -> int:
        return os.getpid()


class ReplicaHandle:
    """One replica as the client calls it: ``handle.method(*args)`` is an actor future
    of ``ShardReplica.method`` on the replica's worker."""

    def __init__(self, host: Any, address: str, shard: int, replica: int) -> None:
        self.host = host  # the worker's ShardHost actor
        self.address = address  # the worker's
        self.shard = shard
        self.replica = replica

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args: self.host.call(self.shard, self.replica, method, *args)
