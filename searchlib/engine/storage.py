"""The index directory: durable files, the writer lock, and cleanup.

Every index file is written under a temporary name (``.partial``), fsynced and renamed
into place (``os.replace``, atomic on POSIX), and the directory fsynced after a rename
or a new file, so a commit that returned survives a crash or power loss.

The writer lock is Whoosh's ``FileStorage.lock`` (an ``fcntl`` lock the kernel releases
when its process dies, so a killed writer never leaves a stale lock): Whoosh's storage
through its documented API; ``WriterLock`` adds a small JSON file saying who holds it,
for the error message of the writer that has to wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import time
from pathlib import Path
from typing import BinaryIO

from whoosh.filedb.filestore import FileStorage

from searchlib.errors import IndexCorruptError, IndexLockedError

__all__ = [
    "LOCK_NAME",
    "MARKER",
    "MAX_METADATA_BYTES",
    "WriterLock",
    "create_data_file",
    "from_unfinished_create",
    "fsync_directory",
    "read_small_file",
    "regular_file_size",
    "remove_leftovers",
    "remove_temp_files",
    "write_atomically",
]

# The most a metadata file (a commit point, the marker) may hold: far above any real
# one (a commit of thousands of segments and a large synonym table is a few MB), so a
# crafted one (a sparse file of terabytes) is refused before it is read.
MAX_METADATA_BYTES = 256 << 20
LOCK_NAME = "WRITELOCK"
MARKER = "searchlib.json"  # an index directory's marker file (format version)
HOLDER_FILE = "writer.json"


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_data_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a new index file (or a merge's spill) for writing: every index file is
    created through this function (the disk-full drills fail it)."""
    return open(path, "wb")


def write_atomically(path: Path, data: bytes) -> None:
    """Write a whole file durably under a temporary name, then rename it into place
    (readers see the old file or the new one) and make the rename durable."""
    path = Path(path)
    temp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        with create_data_file(temp) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_directory(path.parent)


def regular_file_size(path: Path) -> int:
    """The size of ``path``, an index file; a FIFO, device or directory in its place
    (a crafted index: opening one could block or read without end) is damage."""
    info = os.stat(path)  # FileNotFoundError passes: a commit replaced the file
    if not stat.S_ISREG(info.st_mode):
        raise IndexCorruptError(f"index file {str(path)!r} is not a regular file")
    return info.st_size


def read_small_file(path: Path, limit: int = MAX_METADATA_BYTES) -> bytes:
    """The bytes of ``path``, an index file of at most ``limit`` bytes (checked before
    reading: ``IndexCorruptError`` for a larger one, as for a FIFO or a device)."""
    size = regular_file_size(path)
    if size > limit:
        raise IndexCorruptError(
            f"index file {str(path)!r} holds {size:,} bytes, more than such a file can "
            f"({limit:,}): it is damaged or not searchlib's"
        )
    with open(path, "rb") as handle:
        return handle.read(limit + 1)


class WriterLock:
    """The index's single-writer lock, waiting up to ``timeout`` seconds."""

    def __init__(self, folder: Path, timeout: float) -> None:
        self._folder = Path(folder)
        self._timeout = timeout
        self._lock = FileStorage(str(folder)).lock(LOCK_NAME)
        self._holder = self._folder / HOLDER_FILE

    def acquire(self) -> WriterLock:
        deadline = time.monotonic() + max(0.0, self._timeout)
        delay = 0.005
        while not self._lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"index {str(self._folder)!r} is locked by another writer "
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
            info = json.loads(read_small_file(self._holder, 1 << 16))
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
            return f"pid {info['pid']} on {info['host']} since {since}"
        except (OSError, ValueError, KeyError, TypeError, IndexCorruptError):
            return "holder unknown"

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def from_unfinished_create(name: str) -> bool:
    """Files an interrupted ``Engine.create`` may leave (it writes the marker last)."""
    # Never a segment, so no documents can be lost. Temporary names start alike.
    return name in (LOCK_NAME, HOLDER_FILE) or name.startswith((MARKER, "commit.0.json"))


def remove_temp_files(folder: Path) -> None:
    """Unfinished files (``.partial``) and merge spill folders (``.tmp``) a killed
    writer left. Only when no writer runs."""
    for leftover in Path(folder).glob("*.partial"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    for spill in Path(folder).glob("*.tmp"):
        shutil.rmtree(spill, ignore_errors=True)


def remove_leftovers(folder: Path) -> None:
    """Delete temp files a killed writer left behind, when no writer is running now."""
    try:
        lock = FileStorage(str(folder)).lock(LOCK_NAME)
        if not lock.acquire(blocking=False):
            return  # a live writer owns the directory; its temp files are not leftovers
    except OSError:
        return  # a read-only directory: nothing to clean
    try:
        remove_temp_files(folder)
    finally:
        lock.release()
