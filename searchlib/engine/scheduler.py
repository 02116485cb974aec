"""Merges off the commit path: a background thread, as Lucene's ConcurrentMergeScheduler.

A commit returns once its segment is durable, then asks for merges. The merger thread
picks one merge from the newest commit (``select_merges``), writes the merged segment
without the writer lock, in a folder of its own (``merging.<pid>.<token>``: no writer's
cleanup can take its files), while searches and writes go on. Then it takes the writer
lock for a moment: if its sources are still in the newest commit, the documents deleted
from them meanwhile are deleted from the merged segment too (through the merge's
document maps), its files move into the index and one commit replaces the sources with
it. If another merge or an optimize took a source meanwhile, the merged segment is
dropped. A merge killed midway leaves only its folder, removed at the next open.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from searchlib.engine.commit import CommitPoint, SegmentInfo, read_deletions, write_deletions
from searchlib.engine.memory import release_free_memory
from searchlib.engine.merge import MAX_MERGE_ROUNDS, merge_segments, select_merges
from searchlib.engine.storage import WriterLock, fsync_directory
from searchlib.errors import IndexLockedError, SearchlibError

if TYPE_CHECKING:
    from searchlib.engine import Engine

__all__ = ["MERGE_FOLDER_PREFIX", "BackgroundMerger", "remove_dead_merge_folders"]

MERGE_FOLDER_PREFIX = "merging."
# How long a finished merge waits for the writer lock (writers hold it briefly), and
# while its index closes: a closing process does not wait out another's long write
# (the merges it leaves are asked for again at the next commit).
LOCK_WAIT = 120.0
CLOSING_LOCK_WAIT = 2.0


class BackgroundMerger:
    """Runs the merge policy of one engine on a background thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._closed = False
        self._closing = False
        self.merges_done = 0
        self.last_error: BaseException | None = None

    def request(self) -> None:
        """Look for merges now (after a commit); returns at once."""
        with self._mutex:
            if self._closed:
                return
            self._again = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"searchlib-merge {self._engine.path}", daemon=True
                )
                self._thread.start()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def wait(self) -> None:
        """Return when no merge runs or is asked for (Lucene's ``waitForMerges``)."""
        while True:
            with self._mutex:
                thread = self._thread
            if thread is None or not thread.is_alive():
                return
            thread.join()

    def close(self, *, finish: bool = True) -> None:
        """Stop merging: with ``finish``, once the merges the commits asked for are
        done (Lucene's ``IndexWriter.close``); without, after the running merge's
        current step (the rest waits for the next writer)."""
        if finish:
            self._closing = True
            self.wait()
        with self._mutex:
            self._closed = True
            self._again = False
        self.wait()

    def _run(self) -> None:
        while True:
            with self._mutex:
                if not self._again or self._closed:
                    self._thread = None
                    return
                self._again = False
            try:
                for _round in range(MAX_MERGE_ROUNDS * 4):
                    if self._closed or not self._merge_once():
                        break
                    self.merges_done += 1
                    release_free_memory()
                self.last_error = None
            except (OSError, SearchlibError) as exc:
                self.last_error = exc
                warnings.warn(
                    f"merging segments of {str(self._engine.path)!r} failed ({exc}); the "
                    "commits stand and the merge is tried again after the next commit",
                    RuntimeWarning,
                    stacklevel=1,
                )

    def _merge_once(self) -> bool:
        """Run the first merge the policy asks of the newest commit; False if none."""
        engine = self._engine
        commit = engine.latest_commit()
        sizes = [(s.live_count, s.doc_count) for s in commit.segments]
        groups = select_merges(sizes, engine.merge_policy)
        if not groups:
            return False
        sources = [commit.segments[n] for n in groups[0]]
        if self._closing and not _lock_free(engine.path):
            return False  # another process is writing: leave the merge to the next commit
        folder = engine.path / f"{MERGE_FOLDER_PREFIX}{os.getpid()}.{secrets.token_hex(4)}"
        folder.mkdir()
        try:
            try:
                merged = merge_segments(engine.path, sources, folder)
            except FileNotFoundError:
                return True  # a commit replaced the sources' files: start again
            try:
                wait = CLOSING_LOCK_WAIT if self._closing else LOCK_WAIT
                lock = WriterLock(engine.path, wait).acquire()
            except IndexLockedError:
                return False  # a long write: the next commit asks again
            try:
                _publish(engine, sources, merged, folder)
            finally:
                lock.release()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return True


def _lock_free(folder: Path) -> bool:
    """Whether no writer holds the index's lock now (a moment's look)."""
    try:
        WriterLock(folder, 0.0).acquire().release()
    except IndexLockedError:
        return False
    return True


def _publish(
    engine: Engine,
    sources: list[SegmentInfo],
    merged: tuple[SegmentInfo, list[np.ndarray]] | None,
    folder: Path,
) -> None:
    """Under the writer lock: replace ``sources`` by their merge in a new commit."""
    latest = engine.latest_commit()
    where = {s.id: n for n, s in enumerate(latest.segments)}
    if any(s.id not in where for s in sources):
        return  # another merge or an optimize took a source meanwhile
    first = where[sources[0].id]
    if [where[s.id] for s in sources] != list(range(first, first + len(sources))):
        return
    generation = latest.generation + 1
    replacement: list[SegmentInfo] = []
    if merged is not None:
        info, docmaps = merged
        deleted = np.zeros(info.doc_count, dtype=bool)
        for old, docmap in zip(sources, docmaps, strict=True):
            now = latest.segments[where[old.id]]
            if now.deletions != old.deletions:  # deleted while the merge ran
                newly = read_deletions(engine.path, now) & (docmap >= 0)
                deleted[docmap[newly]] = True
        for name in info.files:
            os.replace(folder / name, engine.path / name)
        fsync_directory(engine.path)
    try:
        if merged is not None:
            if deleted.any():
                name, count, checked = write_deletions(engine.path, info.id, generation, deleted)
                info = info.with_deletions(name, count, checked)
            replacement = [info]
        segments = (
            list(latest.segments[:first])
            + replacement
            + list(latest.segments[first + len(sources) :])
        )
        engine.publish(CommitPoint(generation, tuple(segments), latest.extra))
    except BaseException:
        with contextlib.suppress(OSError, SearchlibError):
            engine.remove_unreferenced()
        raise
    engine.forget_snapshot()


def remove_dead_merge_folders(folder: Path) -> None:
    """Folders of background merges whose process is gone (killed midway)."""
    for entry in Path(folder).glob(f"{MERGE_FOLDER_PREFIX}*"):
        try:
            pid = int(entry.name.split(".")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(OSError):
                shutil.rmtree(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
