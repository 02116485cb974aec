"""One shard replica, kept open on a Dask worker by its ``ShardHost`` actor.

Every method answers from the replica's own index directory, so a replica whose
worker died is brought back by opening it again (on the same or another worker that
can read the directory): the index reopens from its last commit.

Dask runs an actor's plain methods one at a time on one thread, so a search would
wait for the whole of a write before it. The methods are coroutines instead (the host
awaits them on the worker's event loop) that hand the work to two pools of the
replica's own: writes one at a time on the write thread, reads on the read threads,
each read from the index's current snapshot while a write runs. The write thread only
waits: the writing itself runs in the replica's writer process (``cluster.writer``),
so its analysis never holds the worker's GIL. That process starts with the first write
and stops after ``WRITER_IDLE`` seconds without one: a replica that is only read
costs no process.

A replica keeps the snapshots it ranked searches on for a while (``KEEP_SNAPSHOTS``,
``KEEP_SECONDS``: Elasticsearch's point in time), so the fetch of a page reads the
commit its ranking read, even when a write committed in between.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from searchlib.analysis import Analyzer, Synonyms
from searchlib.cluster.writer import WriterProcess
from searchlib.errors import QueryError
from searchlib.index import Index
from searchlib.query.results import Hit
from searchlib.query.shard import SEARCH_STEPS, ShardSearcher

__all__ = [
    "KEEP_SECONDS",
    "KEEP_SNAPSHOTS",
    "READ_THREADS",
    "WRITER_IDLE",
    "RecoveryFile",
    "ShardReplica",
]

READ_THREADS = 2  # searches of one replica answered at once
KEEP_SNAPSHOTS = 8  # snapshots kept for the fetch of pages ranked on them...
KEEP_SECONDS = 60.0  # ...for at most this long (the newest is always kept)
WRITER_IDLE = 30.0  # seconds without a write before the writing child stops
T = TypeVar("T")
RecoveryFile = tuple[str, int, int]  # a file a peer pulls: name, size, CRC-32
_TOKEN = re.compile(r"[0-9a-f]{32}")


class ShardReplica:
    """One replica's index at ``path`` (created with ``analyzer`` when new)."""

    def __init__(self, path: str, analyzer: Analyzer | None = None, create: bool = True) -> None:
        """``create``: make the index if ``path`` holds none (a new replica); else a
        missing index raises ``IndexNotFoundError`` (a lost disk: recovered from a peer,
        never served empty)."""
        self.path = Path(path)
        if create:
            self.index = Index.open_or_create(self.path, analyzer=analyzer, workers=1)
        else:
            self.index = Index.open(self.path, workers=1)
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="searchlib-read")
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="searchlib-write")
        # The writing child: started by the first write, from the write thread (the
        # child is tied to the thread that started it: it dies with it), and stopped
        # once idle for WRITER_IDLE seconds, so a replica only read costs no process.
        self._writer: WriterProcess | None = None
        self._last_write = 0.0
        self._closed = False
        # generation -> (when last used, its searcher): the point in time of a search.
        self._kept: OrderedDict[int, tuple[float, ShardSearcher]] = OrderedDict()
        self._kept_lock = threading.Lock()

    def _searcher(self, generation: int | None = None) -> ShardSearcher:
        """The searcher of commit ``generation`` if still kept, else of the current one
        (kept from now on)."""
        now = time.monotonic()
        with self._kept_lock:
            if generation is not None and generation in self._kept:
                searcher = self._kept[generation][1]
            else:
                searcher = self.index.shard_searcher()
                generation = searcher.snapshot.generation
            self._kept[generation] = (now, searcher)
            self._kept.move_to_end(generation)
            while len(self._kept) > 1 and (
                len(self._kept) > KEEP_SNAPSHOTS
                or next(iter(self._kept.values()))[0] < now - KEEP_SECONDS
            ):
                self._kept.popitem(last=False)
            return searcher

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, function, *args)

    async def _write(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writes, function, *args)

    async def _through_writer(self, method: str, *args: Any) -> Any:
        """One write by the writing child (started if it is not running)."""

        def write() -> Any:
            if self._writer is None:
                self._writer = WriterProcess(str(self.path))
            try:
                return getattr(self._writer, method)(*args)
            finally:
                self._last_write = time.monotonic()

        answer = await self._write(write)
        asyncio.get_running_loop().call_later(WRITER_IDLE, self._stop_writer_if_idle)
        return answer

    def _stop_writer_if_idle(self) -> None:
        def stop() -> None:
            idle = time.monotonic() - self._last_write >= WRITER_IDLE * 0.99
            if self._writer is not None and idle:
                self._writer.close()
                self._writer = None

        if not self._closed:
            self._writes.submit(stop)

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
        return await self._read(lambda: int(self._searcher().snapshot.generation))

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
        return await self._read(self.search_step_now, step, *args)

    async def fetch(self, generation: int, *args: Any) -> list[Hit]:
        """The page's hits (``ShardSearcher.hits``) from commit ``generation``, the one
        the page was ranked on, if this replica still keeps it."""
        return await self._read(self.fetch_now, generation, *args)

    # The same two, run on the calling thread: the host runs a round's steps for all
    # of its replicas one after another on one thread (``ShardHost.steps``).

    def searcher(self) -> ShardSearcher:
        """The current snapshot's searcher (kept for the fetch of what it ranks)."""
        return self._searcher()

    def search_step_now(self, step: str, *args: Any) -> Any:
        if step not in SEARCH_STEPS:
            raise QueryError(f"unknown search step {step!r} (one of {SEARCH_STEPS})")
        return getattr(self._searcher(), step)(*args)

    def fetch_now(self, generation: int, *args: Any) -> list[Hit]:
        return self._searcher(generation).hits(*args)

    # -- writes: one at a time, on the write thread -----------------------------------

    async def set_synonyms(self, data: list[dict[str, list[str]]]) -> None:
        Synonyms.from_data(data)  # a bad list is the caller's error, raised here
        await self._through_writer("set_synonyms", data)

    async def add(self, records: list[dict[str, Any]]) -> int:
        return int(await self._through_writer("add", records))

    async def apply(self, adds: list[dict[str, Any]], deletes: list[str]) -> tuple[int, int]:
        """Adds (upserts) and deletes in one atomic commit of this replica."""
        added, deleted = await self._through_writer("apply", adds, deletes)
        return int(added), int(deleted)

    async def delete(self, ids: list[str]) -> int:
        return int(await self._through_writer("delete", ids))

    # -- peer recovery: the source side -----------------------------------------------

    def _recovery_folder(self, token: str) -> Path:
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"not a recovery token: {token!r}")
        return self.path.with_name(f"{self.path.name}.recovery-{token}")

    async def recovery_source(self) -> tuple[str, list[RecoveryFile]]:
        """This replica's last commit for a peer to copy: hard links to its files in a
        folder beside it (taken in an instant, under the writer lock; the files never
        change), kept until ``recovery_done``. Returns its token and files."""
        token = uuid.uuid4().hex
        folder = self._recovery_folder(token)
        await self._write(lambda: self.index.backup(folder, link=True))

        def listed() -> list[RecoveryFile]:
            files = []
            for item in sorted(folder.iterdir()):
                crc = 0
                with open(item, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        crc = zlib.crc32(chunk, crc)
                files.append((item.name, item.stat().st_size, crc))
            return files

        return token, await self._read(listed)

    async def recovery_chunk(self, token: str, name: str, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset`` of file ``name`` of recovery ``token``."""
        path = self._recovery_folder(token) / Path(name).name

        def read() -> bytes:
            with open(path, "rb") as handle:
                handle.seek(offset)
                return handle.read(size)

        return await self._read(read)

    async def recovery_done(self, token: str) -> None:
        folder = self._recovery_folder(token)
        await self._read(lambda: shutil.rmtree(folder, ignore_errors=True))

    async def close(self) -> None:
        """Close the index after the running write and reads are done."""

        def close() -> None:
            self._closed = True
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._reads.shutdown(wait=True)
            self.index.close()

        await self._write(close)
        self._writes.shutdown(wait=False)
