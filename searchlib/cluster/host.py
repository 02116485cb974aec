"""The replicas one Dask worker keeps open: one actor per worker, ``ShardHost``.

A worker hosts several replicas (of different shards). They live in one actor so
that a round of a search sends one request per worker, carrying every step for that
worker's shards (``ShardHost.steps``, ``ShardHost.rank_round``), instead of one per
shard; a round reaches the host through its worker's round handler, under the host's
name (``cluster.endpoint``: cheaper than an actor call). The client reaches a
replica otherwise through a ``ReplicaHandle``: the host's actor and the replica's (shard,
replica) pair, called like the replica itself (``handle.add(records).result()``).
Every client of a cluster index uses the same host on a worker (published on the
scheduler by the first: ``ReplicaSet``), so a new client, a ``search`` command say,
finds the replicas open. A host whose worker died is gone with its replicas; the client
opens them again on a live worker (the index reopens from its last commit).

Peer recovery (``ShardHost.recover``): a stale or lost replica is rebuilt on its worker
by pulling a healthy replica's committed files from that replica's worker, through
Dask, in chunks, each file checked against its CRC-32, then swapped in whole; the
source keeps serving searches meanwhile. No path is shared between the workers.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from distributed import get_worker

from searchlib.analysis import Analyzer
from searchlib.cluster.endpoint import ReplicaNotOpen, RoundEndpoint
from searchlib.cluster.replica import ShardReplica
from searchlib.cluster.rounds import WorkerRound, answer_round
from searchlib.engine.storage import fsync_directory
from searchlib.errors import SearchlibError
from searchlib.query.shard import ShardSearcher

__all__ = ["RECOVERY_CHUNK", "RecoveryError", "ReplicaHandle", "ReplicaNotOpen", "ShardHost"]

RECOVERY_CHUNK = 4 << 20  # bytes per request of a peer recovery

# One request of a round: (shard, replica, the replica's method, its arguments).
Request = tuple[int, int, str, tuple[Any, ...]]

# The replica methods a round runs on the host's read thread, by the name sent.
READ_STEPS: dict[str, Callable[..., Any]] = {
    "search_step": ShardReplica.search_step_now,
    "fetch": ShardReplica.fetch_now,
}


class RecoveryError(SearchlibError):
    """A peer recovery could not copy a whole, intact replica."""


class ShardHost:
    """The actor on one worker, keeping its replicas open by (shard, replica)."""

    def __init__(self, name: str | None = None) -> None:
        self._replicas: dict[tuple[int, int], ShardReplica] = {}
        self._opening = asyncio.Lock()
        # A round's search steps (``steps``); two, so that two clients' rounds overlap.
        self._reads = ThreadPoolExecutor(2, thread_name_prefix="searchlib-round")
        # Rounds reach the host through its worker's handler (``cluster.endpoint``),
        # under ``name``; it starts in a task on that worker.
        self.name = name
        self._worker = get_worker() if name is not None else None
        self._serve_rounds()

    def _serve_rounds(self) -> None:
        if self.name is not None:
            RoundEndpoint.register(self._worker, self.name, self)

    async def open(
        self, shard: int, replica: int, path: str, analyzer: Analyzer | None, create: bool
    ) -> None:
        """Open the replica at ``path`` on this worker (``create``: a new one, made
        with ``analyzer`` if missing; else ``IndexNotFoundError`` if missing)."""
        self._serve_rounds()  # again: a client reopening replicas finds rounds served
        async with self._opening:
            if (shard, replica) not in self._replicas:
                loop = asyncio.get_running_loop()
                opened = await loop.run_in_executor(None, ShardReplica, path, analyzer, create)
                for other in self._replicas.values():  # a word analyzed once a worker
                    if opened.index.analyzer.share_classifications(other.index.analyzer):
                        break
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

    async def steps(self, message: bytes) -> bytes:
        """Every request of one round for this worker's replicas (``message``, the
        pickled list of requests): ``(True, answer)`` or ``(False, the exception)``
        for each, in order, pickled. One blob each way: Dask serializes a nested
        argument part by part, which costs a round more than the work of a small
        shard (the client and workers trust each other as Dask's own messages do).

        A round's search steps run one after another on one read thread: the GIL
        lets one run at a time anyway, and every extra thread they ran on would wait
        up to a switch interval (5 ms) for it at each hand-over. Other requests (a
        write, say) run beside them, each as its replica schedules it."""
        requests: list[Request] = pickle.loads(message)
        reads: list[int] = []
        others: list[int] = []
        for n, request in enumerate(requests):
            (reads if request[2] in READ_STEPS else others).append(n)
        answers: list[tuple[bool, Any]] = [(False, None)] * len(requests)
        pending = None
        if reads:
            pending = asyncio.get_running_loop().run_in_executor(
                self._reads, self._run_reads, [requests[n] for n in reads]
            )
        calls = (self.call(s, r, name, *args) for s, r, name, args in (requests[n] for n in others))
        done = await asyncio.gather(*calls, return_exceptions=True)
        for n, answer in zip(others, done, strict=True):
            answers[n] = (not isinstance(answer, BaseException), answer)
        if pending is not None:
            for n, answer in zip(reads, await pending, strict=True):
                answers[n] = answer
        return _pickled(answers)

    async def rank_round(self, message: bytes) -> bytes:
        """A first page's rank round for this worker (``message``, a pickled
        ``WorkerRound``): ``(True, WorkerAnswer)`` or ``(False, the exception)``,
        pickled; run on the round thread, like ``steps``."""
        work: WorkerRound = pickle.loads(message)
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._reads, answer_round, work, self._searcher)
        except Exception as exc:
            return _pickled([(False, exc)])
        return _pickled([(True, answer)])

    def _searcher(self, shard: int, replica: int) -> ShardSearcher:
        return self._replica(shard, replica).searcher()

    def _run_reads(self, requests: list[Request]) -> list[tuple[bool, Any]]:
        answers: list[tuple[bool, Any]] = []
        for shard, replica, method, args in requests:
            try:
                answers.append((True, READ_STEPS[method](self._replica(shard, replica), *args)))
            except Exception as exc:
                answers.append((False, exc))
        return answers

    async def close_replica(self, shard: int, replica: int) -> None:
        found = self._replicas.pop((shard, replica), None)
        if found is not None:
            await found.close()

    async def close(self) -> None:
        if self.name is not None:
            RoundEndpoint.unregister(self._worker, self.name, self)
        for key in list(self._replicas):
            await self.close_replica(*key)

    async def pid(self) -> int:
        return os.getpid()

    async def recover(
        self, shard: int, replica: int, path: str, source: Any, source_replica: int
    ) -> int:
        """Rebuild replica ``replica`` of ``shard`` at ``path`` on this worker from
        replica ``source_replica`` on the worker of ``source`` (its ``ShardHost``
        actor); returns the bytes copied. The old directory is replaced only once every
        file arrived whole and checked."""
        await self.close_replica(shard, replica)
        target = Path(path)
        incoming = target.with_name(f"{target.name}.incoming")
        loop = asyncio.get_running_loop()
        token, files = await source.call(shard, source_replica, "recovery_source")
        try:
            await loop.run_in_executor(None, _fresh_folder, incoming)
            copied = 0
            for name, size, crc in files:
                copied += await self._pull(
                    source, shard, source_replica, token, incoming, name, size, crc
                )
            await loop.run_in_executor(None, _swap_in, incoming, target)
        finally:
            await source.call(shard, source_replica, "recovery_done", token)
        return copied

    async def _pull(
        self,
        source: Any,
        shard: int,
        source_replica: int,
        token: str,
        folder: Path,
        name: str,
        size: int,
        crc: int,
    ) -> int:
        """One file of a recovery, chunk by chunk, checked against its size and CRC."""
        loop = asyncio.get_running_loop()
        if Path(name).name != name or name.startswith("."):
            raise RecoveryError(f"a recovery named an odd file: {name!r}")
        handle = await loop.run_in_executor(None, open, folder / name, "wb")
        try:
            offset, running = 0, 0
            while offset < size:
                want = min(RECOVERY_CHUNK, size - offset)
                chunk = await source.call(
                    shard, source_replica, "recovery_chunk", token, name, offset, want
                )
                if not chunk:
                    raise RecoveryError(f"{name!r} ended at {offset} of {size} bytes")
                running = zlib.crc32(chunk, running)
                await loop.run_in_executor(None, handle.write, chunk)
                offset += len(chunk)
            await loop.run_in_executor(None, _flush, handle)
        finally:
            handle.close()
        if running != crc:
            raise RecoveryError(f"{name!r} arrived damaged (CRC-32 {running:08x}, not {crc:08x})")
        return size


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


def _pickled(answers: list[tuple[bool, Any]]) -> bytes:
    """A round's answers as one blob; an exception that cannot be pickled travels as
    a ``SearchlibError`` with its text (its replica then counts as failed)."""
    try:
        return pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        sendable = []
        for ok, answer in answers:
            try:
                pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                ok, answer = False, SearchlibError(f"{type(answer).__name__}: {answer}"[:500])
            sendable.append((ok, answer))
        return pickle.dumps(sendable, protocol=pickle.HIGHEST_PROTOCOL)


def _fresh_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def _flush(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _swap_in(incoming: Path, target: Path) -> None:
    """``incoming`` (whole and checked) in place of ``target``, durably."""
    fsync_directory(incoming)
    old = target.with_name(f"{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(incoming, target)
    fsync_directory(target.parent)
    shutil.rmtree(old, ignore_errors=True)
