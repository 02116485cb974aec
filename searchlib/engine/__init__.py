"""The storage engine: everything that touches Whoosh lives in this package.

``Engine`` creates and opens an index directory, hands out ``Snapshot`` views for
searching (refreshed when a new commit appears) and ``EngineWriter`` sessions for
writing. The rest of searchlib sees only these three objects, so the engine could be
swapped without touching analysis, ranking, queries or snippets.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.engine import whoosh_adapter
from searchlib.engine.bulk import BulkAdder
from searchlib.engine.merge import MergePolicy, run_merges
from searchlib.engine.schema import (
    DATE_OFFSET,
    EXACT,
    FORMAT_VERSION,
    LABEL_COLUMNS,
    LENGTH_FIELD,
    MISSING_DATE,
    NUMBER_COLUMNS,
    TEXT_FIELDS,
    EngineDocument,
    build_schema,
)
from searchlib.engine.snapshot import SCORED_FIELDS, Snapshot
from searchlib.engine.storage import (
    INDEX_NAME,
    LOCK_NAME,
    MARKER,
    DurableFileStorage,
    WriterLock,
    from_unfinished_create,
    fsync_directory,
    remove_leftovers,
    remove_segment_files,
    remove_temp_files,
    remove_temp_folders,
)
from searchlib.engine.writer import EngineWriter, write_error
from searchlib.errors import (
    IndexNotFoundError,
    IndexVersionError,
    SearchlibError,
)

__all__ = [
    "DATE_OFFSET",
    "EXACT",
    "LENGTH_FIELD",
    "MISSING_DATE",
    "TEXT_FIELDS",
    "Engine",
    "EngineDocument",
    "EngineWriter",
    "MergePolicy",
    "Snapshot",
    "remove_segment_files",
    "write_error",
]


class Engine:
    """An index directory managed through Whoosh."""

    def __init__(self, path: Path, storage: DurableFileStorage, index: Any) -> None:
        self.path = path
        self.storage = storage
        self._index = index
        self._snapshot: Snapshot | None = None
        self._columns: dict = {}
        self._refresh_lock = threading.Lock()
        self.analyzer: Analyzer = index.schema["body"].analyzer
        self.merge_policy = MergePolicy()

    # -- lifecycle -----------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], analyzer: Analyzer) -> Engine:
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise SearchlibError(f"cannot create an index at {str(folder)!r}: not a directory")
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / MARKER
        if marker.exists():
            raise SearchlibError(f"an index already exists at {str(folder)!r}")
        leftovers = list(folder.iterdir())
        if leftovers and not all(from_unfinished_create(p.name) for p in leftovers):
            raise SearchlibError(
                f"cannot create an index at {str(folder)!r}: the directory is not empty"
            )
        for leftover in leftovers:  # a create that was killed before its marker
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        storage = DurableFileStorage(str(folder))
        index = storage.create_index(build_schema(analyzer), indexname=INDEX_NAME)
        info = {"format": FORMAT_VERSION, "created": time.time(), "engine": "whoosh"}
        temp = folder / (MARKER + ".tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(info, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, marker)
        fsync_directory(folder)
        return cls(folder, storage, index)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Engine:
        folder = Path(path)
        marker = folder / MARKER
        if not folder.is_dir():
            raise IndexNotFoundError(f"no index at {str(folder)!r}: the directory does not exist")
        if not marker.is_file():
            raise IndexNotFoundError(
                f"no searchlib index at {str(folder)!r} (no {MARKER}); "
                "create one first, and only open index directories from a trusted source"
            )
        try:
            info = json.loads(marker.read_text("utf-8"))
            version = info["format"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexNotFoundError(f"{str(marker)!r} is not a searchlib index marker") from exc
        if version != FORMAT_VERSION:
            raise IndexVersionError(
                f"index at {str(folder)!r} has format {version!r}, this searchlib reads "
                f"format {FORMAT_VERSION}: rebuild the index"
            )
        storage = DurableFileStorage(str(folder))
        remove_leftovers(folder)
        try:
            index = storage.open_index(indexname=INDEX_NAME)
        except Exception as exc:  # Whoosh raises many types for a damaged TOC
            raise IndexNotFoundError(
                f"cannot open the index at {str(folder)!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return cls(folder, storage, index)

    def whoosh_index(self) -> Any:
        return self._index

    def close(self) -> None:
        self._snapshot = None
        self._columns.clear()

    # -- reading and writing -------------------------------------------------------

    def generation(self) -> int:
        return self._index.latest_generation()

    def snapshot(self) -> Snapshot:
        """The current commit's snapshot, rebuilt only when a new commit appeared."""
        current = self._snapshot
        generation = self.generation()
        if current is not None and current.generation == generation:
            return current
        with self._refresh_lock:
            current = self._snapshot
            generation = self.generation()
            if current is None or current.generation != generation:
                current = self._open_snapshot()
                self._snapshot = current
            return current

    def _open_snapshot(self) -> Snapshot:
        # A writer in another process may commit between our reading the latest TOC
        # and opening its files, and delete them; the next generation is then complete.
        for attempt in range(20):
            generation = self.generation()
            try:
                index = self._index.refresh()
                searcher = index.searcher()
                snapshot = Snapshot(searcher, generation, self._columns, self.path)
            except (OSError, EOFError, TypeError) as exc:  # files merged away meanwhile
                if attempt == 19:
                    raise SearchlibError(
                        f"cannot read the index at {str(self.path)!r}: {exc}"
                    ) from exc
                time.sleep(0.01 * (attempt + 1))
                continue
            self._index = index
            return snapshot
        raise AssertionError("unreachable")  # pragma: no cover

    def write_segment(self, documents: Iterable[EngineDocument]) -> Any:
        """Write ``documents`` as a complete new segment and return it,
        without committing: it becomes visible when a writer commits it. The caller
        must hold the writer lock (workers of a writer do)."""
        writer = whoosh_adapter.new_segment_writer(self._index)
        adder = BulkAdder(writer, SCORED_FIELDS, NUMBER_COLUMNS, LABEL_COLUMNS)
        try:
            for fields in documents:
                adder.add(fields)
            segment = whoosh_adapter.finish_segment(writer)
        except BaseException as exc:
            writer.cancel()
            remove_segment_files(self.path, writer.newsegment)
            if isinstance(exc, OSError):
                raise write_error(self.path, "segment", exc) from exc
            raise
        remove_temp_folders(whoosh_adapter.temp_folders(writer))
        return segment

    def merge(self, *, optimize: bool = False, policy: MergePolicy | None = None) -> int:
        """Merge segments as ``policy`` (default ``merge_policy``) asks, or all into
        one with ``optimize``. Call with the writer lock held."""
        return run_merges(self, optimize=optimize, policy=policy)

    def forget_snapshot(self) -> None:
        """Drop the cached snapshot (the next search opens the current commit)."""
        self._snapshot = None

    def remove_uncommitted(self) -> None:
        """Delete the files of segments no commit refers to (what a failed or cancelled
        write left). Call with the writer lock held, and no segment being written."""
        try:
            whoosh_adapter.clean_uncommitted(self.storage, self._index, INDEX_NAME)
        except OSError:
            raise
        except Exception:  # no readable commit at all: nothing is safe to delete
            return
        remove_temp_files(self.path)

    def segment_writer(self) -> Any:
        return whoosh_adapter.new_segment_writer(self._index)

    def writer(self, timeout: float, *, bulk: bool = True) -> EngineWriter:
        return EngineWriter(self, timeout, bulk=bulk)

    def copy_to(self, destination: Path, timeout: float) -> None:
        """Copy the index's files to ``destination`` (a new directory) while holding
        the writer lock, so no commit or merge changes them meanwhile: a consistent
        copy of the last commit."""
        with WriterLock(self.storage, timeout):
            shutil.copytree(self.path, destination, ignore=shutil.ignore_patterns(LOCK_NAME))
        fsync_directory(destination)

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def last_commit_time(self) -> float | None:
        tocs = list(self.path.glob(f"_{INDEX_NAME}_*.toc"))
        return max((t.stat().st_mtime for t in tocs), default=None)

    def segment_count(self) -> int:
        return self.snapshot().segment_count
