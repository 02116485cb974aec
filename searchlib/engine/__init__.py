"""The storage engine: index directories in searchlib's own checksummed formats.

``Engine`` creates and opens an index directory, hands out ``Snapshot`` views for
searching (refreshed when a new commit appears) and ``EngineWriter`` sessions for
writing. The rest of searchlib sees only these objects. Everything read from the
directory is data (JSON and arrays, checked against checksums): nothing is unpickled,
so an index made elsewhere cannot run code when opened. Whoosh provides the writer
lock (``engine.storage``) and the analyzer protocol; the files are searchlib's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.engine import storage
from searchlib.engine.blockmax import TermBlocks
from searchlib.engine.checksum import dump_checked_json, load_checked_json
from searchlib.engine.commit import (
    CommitPoint,
    SegmentInfo,
    commit_generations,
    commit_path,
    read_commit,
    write_commit,
)
from searchlib.engine.merge import MergePolicy, run_merges
from searchlib.engine.scheduler import BackgroundMerger, remove_dead_merge_folders
from searchlib.engine.schema import (
    DATE_OFFSET,
    EXACT,
    FORMAT_VERSION,
    LENGTH_FIELD,
    MISSING_DATE,
    SCORED_TEXT,
    STOP,
    TEXT_FIELDS,
    EngineDocument,
)
from searchlib.engine.segment import write_segment
from searchlib.engine.snapshot import SCORED_FIELDS, SegmentColumns, Snapshot
from searchlib.engine.stems import STEM_FILE, IndexStems, with_index_stems
from searchlib.engine.storage import (
    LOCK_NAME,
    MARKER,
    WriterLock,
    from_unfinished_create,
    fsync_directory,
    read_small_file,
    remove_leftovers,
)
from searchlib.engine.writer import EngineWriter, write_error
from searchlib.errors import (
    AnalyzerError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    SearchlibError,
)

__all__ = [
    "DATE_OFFSET",
    "EXACT",
    "LENGTH_FIELD",
    "MISSING_DATE",
    "SCORED_FIELDS",
    "SCORED_TEXT",
    "STOP",
    "TEXT_FIELDS",
    "Engine",
    "EngineDocument",
    "EngineWriter",
    "MergePolicy",
    "SegmentInfo",
    "Snapshot",
    "TermBlocks",
    "write_error",
]

# Files of an index directory that belong to no commit and stay.
_KEPT = (MARKER, LOCK_NAME, "writer.json", STEM_FILE)


class Engine:
    """An index directory: its marker (format, analyzer), commits and segments."""

    def __init__(self, path: Path, analyzer: Analyzer) -> None:
        self.path = path
        # The index's own stem cache, read lazily (engine.stems).
        self.stems = IndexStems(path)
        self.analyzer = with_index_stems(analyzer, self.stems)
        self._snapshot: Snapshot | None = None
        self._segments: dict[str, SegmentColumns] = {}
        self._refresh_lock = threading.Lock()
        self.merge_policy = MergePolicy()
        # Merges run on a background thread after commits; False: inside each commit.
        self.background_merges = True
        self.merger = BackgroundMerger(self)

    # -- lifecycle -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        analyzer: Analyzer,
        extra: dict[str, Any] | None = None,
    ) -> Engine:
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise SearchlibError(f"cannot create an index at {str(folder)!r}: not a directory")
        stored_analyzer = analyzer.to_data()  # refuses unregistered steps before any file
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
        write_commit(folder, CommitPoint(0, (), dict(extra or {})))
        info = {
            "format": FORMAT_VERSION,
            "created": time.time(),
            "engine": "searchlib",
            "analyzer": stored_analyzer,
        }
        storage.write_atomically(marker, dump_checked_json(info))
        return cls(folder, analyzer)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Engine:
        folder = Path(path)
        marker = folder / MARKER
        if not folder.is_dir():
            raise IndexNotFoundError(f"no index at {str(folder)!r}: the directory does not exist")
        if not marker.is_file():
            raise IndexNotFoundError(
                f"no searchlib index at {str(folder)!r} (no {MARKER}); create one first"
            )
        try:
            data = read_small_file(marker)
        except OSError as exc:
            raise IndexNotFoundError(f"cannot read {str(marker)!r}: {exc}") from exc
        info = _marker_info(marker, data)
        version = info.get("format")
        if version != FORMAT_VERSION:
            raise IndexVersionError(
                f"index at {str(folder)!r} has format {version!r}, this searchlib reads "
                f"format {FORMAT_VERSION}: rebuild the index"
            )
        try:
            analyzer = Analyzer.from_data(info.get("analyzer"))
        except AnalyzerError as exc:
            raise AnalyzerError(f"cannot open the index at {str(folder)!r}: {exc}") from exc
        remove_leftovers(folder)
        remove_dead_merge_folders(folder)
        engine = cls(folder, analyzer)
        engine.latest_commit()  # a damaged commit fails the open, not the first search
        return engine

    def close(self, *, wait_for_merges: bool = True) -> None:
        """Finish the background merges asked for (or, without ``wait_for_merges``,
        only the running one's current step), save new stems, drop what is open."""
        self.merger.close(finish=wait_for_merges)
        self.stems.save(force=True)
        self._snapshot = None
        self._segments.clear()

    # -- commits -------------------------------------------------------------------

    def generation(self) -> int:
        for attempt in range(20):
            generations = commit_generations(self.path)
            if generations:
                return generations[0]
            # A directory listing taken while a writer renames the new commit into
            # place and deletes the old one may show neither: look again.
            time.sleep(0.002 * (attempt + 1))
        raise IndexCorruptError(f"index at {str(self.path)!r} has no commit file")

    def latest_commit(self) -> CommitPoint:
        """The newest commit (retried while a writer replaces it)."""
        for attempt in range(20):
            generation = self.generation()
            try:
                return read_commit(self.path, generation)
            except FileNotFoundError:
                if attempt == 19:
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def publish(self, commit: CommitPoint) -> None:
        """Make ``commit`` the index's (the caller holds the writer lock), then delete
        the files no commit needs any more."""
        write_commit(self.path, commit)
        self.remove_unreferenced(commit)

    def remove_unreferenced(self, commit: CommitPoint | None = None) -> None:
        """Delete files that ``commit`` (default: the newest) does not refer to: older
        commits, merged or failed segments. Call with the writer lock held and no
        segment being written. Readers keep the files they opened (POSIX)."""
        commit = commit or self.latest_commit()
        keep = commit.file_names() | {commit_path(self.path, commit.generation).name}
        for entry in os.listdir(self.path):
            if entry in keep or entry in _KEPT or entry.startswith(MARKER):
                continue
            if entry.startswith(("seg_", "commit.")):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / entry)

    # -- reading and writing -------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current commit's snapshot, rebuilt only when a new commit appeared."""
        current = self._snapshot
        generation = self.generation()
        if current is not None and current.generation == generation:
            return current
        with self._refresh_lock:
            current = self._snapshot
            if current is None or current.generation != self.generation():
                current = self._open_snapshot()
                self._snapshot = current
                self.stems.refresh()  # a writer elsewhere may have saved new stems
            return current

    def _open_snapshot(self) -> Snapshot:
        # A writer in another process may commit between our reading the newest commit
        # and opening its files, and delete them; the next generation is then complete.
        for attempt in range(20):
            try:
                return Snapshot(self.path, self.latest_commit(), self._segments)
            except FileNotFoundError as exc:  # files merged away meanwhile
                if attempt == 19:
                    raise SearchlibError(
                        f"cannot read the index at {str(self.path)!r}: {exc}"
                    ) from exc
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def write_segment(self, documents: Iterable[EngineDocument]) -> SegmentInfo:
        """Write ``documents`` as a complete new segment and return it, without
        committing: it becomes visible when a writer commits it. The caller must hold
        the writer lock (workers of a writer do)."""
        try:
            return write_segment(self.path, documents)
        except OSError as exc:
            raise write_error(self.path, "segment", exc) from exc

    def merge(self, *, optimize: bool = False, policy: MergePolicy | None = None) -> int:
        """Merge segments as ``policy`` (default ``merge_policy``) asks, or all into
        one with ``optimize``, now. Call with the writer lock held."""
        return run_merges(self, optimize=optimize, policy=policy)

    def after_commit(self) -> None:
        """A commit returned: merge in the background (or now, with the writer lock
        held, when ``background_merges`` is off)."""
        if self.background_merges:
            self.merger.request()
        else:
            self.merge()

    def wait_for_merges(self) -> None:
        """Return when no background merge runs or is pending."""
        self.merger.wait()

    def forget_snapshot(self) -> None:
        """Drop the cached snapshot (the next search opens the current commit)."""
        self._snapshot = None

    def writer(self, timeout: float) -> EngineWriter:
        return EngineWriter(self, timeout)

    def copy_to(self, destination: Path, timeout: float, *, link: bool = False) -> None:
        """Copy the last commit's files to ``destination`` (a new directory) while
        holding the writer lock, so no commit or merge changes them meanwhile.
        ``link``: hard links where the file system allows (instant: every index file
        is written once, under a temporary name, and never changed after)."""
        with WriterLock(self.path, timeout):
            commit = self.latest_commit()
            destination.mkdir(parents=True)
            names = commit.file_names() | {commit_path(self.path, commit.generation).name}
            if (self.path / STEM_FILE).exists():
                names.add(STEM_FILE)
            for name in [*sorted(names), MARKER]:  # the marker last: it marks an index
                if link:
                    try:
                        os.link(self.path / name, destination / name)
                        continue
                    except OSError:
                        pass  # another file system, or no hard links: copied
                shutil.copy2(self.path / name, destination / name)
        fsync_directory(destination)

    def verify(self) -> Snapshot:
        """Recompute every file checksum of the current commit (``search check``) and
        return its snapshot; a commit replaced meanwhile (a background merge) is
        followed to the newer one."""
        for attempt in range(20):
            snapshot = self.snapshot()
            try:
                snapshot.verify()
                return snapshot
            except FileNotFoundError:
                if attempt == 19:
                    raise
                self.forget_snapshot()
        raise AssertionError("unreachable")  # pragma: no cover

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def last_commit_time(self) -> float | None:
        try:
            return commit_path(self.path, self.generation()).stat().st_mtime
        except (OSError, SearchlibError):
            return None

    def segment_count(self) -> int:
        return self.snapshot().segment_count


def _marker_info(marker: Path, data: bytes) -> dict[str, Any]:
    """The marker's body; an older format's plain JSON marker gives its version."""
    try:
        info = load_checked_json(marker, data)
    except IndexCorruptError:
        try:
            old = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise IndexNotFoundError(f"{str(marker)!r} is not a searchlib index marker") from exc
        if isinstance(old, dict) and "format" in old and old.get("format") != FORMAT_VERSION:
            return old  # an older format: the caller says to rebuild
        raise
    if not isinstance(info, dict):
        raise IndexCorruptError(f"index file {str(marker)!r} is not a searchlib marker")
    return info
