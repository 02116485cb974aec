"""Whoosh file storage made durable, and the writer lock made informative.

Whoosh 2.7 commits by writing segment files, then a table-of-contents (TOC) file under a
temporary name that it renames, with no fsync anywhere. ``DurableFileStorage`` fsyncs
every file it wrote when Whoosh closes it, renames with ``os.replace`` (atomic on POSIX)
and then fsyncs the directory, so a commit that returned survives a crash or power loss.

The writer lock is Whoosh's ``fcntl`` lock (the kernel releases it when its process
dies, so a killed writer never leaves a stale lock); ``WriterLock`` adds a small JSON
file saying who holds it, for the error message of the writer that has to wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, BinaryIO

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

from searchlib.errors import IndexLockedError

__all__ = [
    "INDEX_NAME",
    "MARKER",
    "DurableFileStorage",
    "WriterLock",
    "create_data_file",
    "from_unfinished_create",
    "fsync_directory",
    "remove_leftovers",
    "remove_segment_files",
    "remove_temp_files",
    "remove_temp_folders",
]

LOCK_NAME = "WRITELOCK"
MARKER = "searchlib.json"  # an index directory's marker file (format version)
INDEX_NAME = "MAIN"  # Whoosh's name for our index (its files start with it)
HOLDER_FILE = "writer.json"


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_data_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a file of searchlib's own (postings files, merge spills) for writing: every
    index file is created through this module, Whoosh's through ``DurableFileStorage``."""
    return open(path, "wb")


def _fsync_on_close(struct_file: StructFile) -> None:
    raw = struct_file.file
    if hasattr(raw, "flush"):
        raw.flush()
    if hasattr(raw, "fileno"):
        os.fsync(raw.fileno())


class DurableFileStorage(FileStorage):
    """A ``FileStorage`` whose files and renames reach the disk before a commit returns."""

    def create_file(self, name, excl=False, mode="wb", **kwargs):
        struct_file = super().create_file(name, excl=excl, mode=mode, **kwargs)
        struct_file.onclose = _fsync_on_close
        return struct_file

    def temp_storage(self, name=None):
        # Several writers (and a writer's worker processes) run at once: each gets a
        # temporary folder of its own, where Whoosh would share one named after the
        # index. A killed writer's leftovers end in .tmp and are removed on open.
        return super().temp_storage(f"{name or 'temp'}.{os.getpid()}.{time.time_ns()}.tmp")

    def rename_file(self, oldname, newname, safe=False):
        if self.readonly:
            return super().rename_file(oldname, newname, safe)
        target = self._fpath(newname)
        if safe and os.path.exists(target):
            raise NameError(f"File {newname!r} exists")
        os.replace(self._fpath(oldname), target)
        fsync_directory(self.folder)


class WriterLock:
    """The index's single-writer lock, waiting up to ``timeout`` seconds."""

    def __init__(self, storage: FileStorage, timeout: float) -> None:
        self._storage = storage
        self._timeout = timeout
        self._lock = storage.lock(LOCK_NAME)
        self._holder = Path(storage.folder) / HOLDER_FILE

    def acquire(self) -> WriterLock:
        deadline = time.monotonic() + max(0.0, self._timeout)
        delay = 0.005
        while not self._lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"index {self._storage.folder!r} is locked by another writer "
                    f"({self.holder()}); waited {self._timeout:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        # The description is a courtesy; the lock itself is what matters.
        with contextlib.suppress(OSError):
            self._holder.write_text(json.dumps(info), "utf-8")
        return self

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self._holder.unlink(missing_ok=True)
        self._lock.release()

    def holder(self) -> str:
        """Who holds the lock, as far as its holder wrote it down."""
        try:
            info = json.loads(self._holder.read_text("utf-8"))
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
            return f"pid {info['pid']} on {info['host']} since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def from_unfinished_create(name: str) -> bool:
    """Files an interrupted ``Engine.create`` may leave (it writes the marker last)."""
    # Only an empty table of contents: never a segment, so no documents can be lost.
    return name in ("WRITELOCK", f"_{INDEX_NAME}_0.toc") or name.startswith(MARKER)


def remove_segment_files(folder: Path, segment: Any) -> None:
    """Delete the files of a segment that was written but never committed."""
    for path in Path(folder).glob(f"{segment.segment_id()}.*"):
        with contextlib.suppress(OSError):
            path.unlink()


def remove_temp_folders(folders: list[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def remove_temp_files(folder: Path) -> None:
    """Whoosh's temporary storage folders, pool runs, compound-file temps and unrenamed
    tables of contents, and our unfinished postings files. Only when no writer runs."""
    for pattern in ("*.tmp", "*.ctmp", "*.run", "*.partial", f"_{INDEX_NAME}_*.toc.*"):
        for leftover in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()


def remove_leftovers(folder: Path) -> None:
    """Delete temp files a killed writer left behind, when no writer is running now."""
    storage = DurableFileStorage(str(folder))
    lock = storage.lock("WRITELOCK")
    if not lock.acquire(blocking=False):
        return  # a live writer owns the directory; its temp files are not leftovers
    try:
        remove_temp_files(folder)
    finally:
        lock.release()
