"""``EngineWriter``: one write session on an index, holding the writer lock.

It deletes by id (marking documents in the segments' id tables) and commits the
segments written meanwhile (``Engine.write_segment``, by this process or its workers)
with those deletions in one atomic commit (``engine.commit``); then it asks for merges
(run in the background). A failed write raises ``IndexWriteError`` and leaves the previous
commit as it was.
"""

from __future__ import annotations

import contextlib
import errno
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from searchlib.engine.arrays import hash_terms
from searchlib.engine.arrays_read import SegmentArrays
from searchlib.engine.commit import CommitPoint, SegmentInfo, read_deletions, write_deletions
from searchlib.engine.segment import POSTINGS_SUFFIX
from searchlib.engine.storage import WriterLock
from searchlib.errors import IndexWriteError, SearchlibError

if TYPE_CHECKING:
    from searchlib.engine import Engine

__all__ = ["EngineWriter", "write_error"]


class EngineWriter:
    """A write session: holds the writer lock until ``commit()`` or ``cancel()``."""

    def __init__(self, engine: Engine, timeout: float) -> None:
        self._engine = engine
        self._lock = WriterLock(engine.path, timeout).acquire()
        try:
            self._base = engine.latest_commit()
        except BaseException:
            self._lock.release()
            raise
        self._ids: list[tuple[SegmentInfo, SegmentArrays]] | None = None
        # Segment id -> its deletions as this session changes them.
        self._deleted: dict[str, np.ndarray] = {}
        self._open = True
        self._changed = False  # anything deleted (or settings changed) in this session
        self._extra: dict[str, Any] = {}  # settings this session changes (synonyms)

    @property
    def base(self) -> CommitPoint:
        """The commit this session started from (the newest: it holds the lock)."""
        return self._base

    def set_extra(self, key: str, value: Any) -> None:
        """Change a setting the commit carries (JSON data), from the next commit on."""
        self._extra[key] = value
        self._changed = True

    def delete(self, doc_id: str) -> int:
        """Delete every committed document with ``doc_id``; returns how many."""
        return self.delete_many([doc_id])

    def delete_many(self, doc_ids: Iterable[str]) -> int:
        """Delete every committed document with one of ``doc_ids``; returns how many.
        Ids are found in each segment's id table (one hash lookup per id and segment)."""
        wanted = list(doc_ids)
        if not wanted:
            return 0
        keys = hash_terms([doc_id.encode("utf-8") for doc_id in wanted])
        count = 0
        for info, arrays in self._segment_ids():
            for _index, doc in arrays.id_documents(wanted, keys):
                if self._mark(info, doc):
                    count += 1
        self._changed = self._changed or count > 0
        return count

    def delete_new(self, segment: SegmentInfo, docnum: int) -> None:
        """Delete document ``docnum`` of a segment this session wrote (not committed)."""
        self._mark(segment, docnum)

    def _mark(self, info: SegmentInfo, docnum: int) -> bool:
        deleted = self._deleted.get(info.id)
        if deleted is None:
            deleted = self._deleted[info.id] = read_deletions(self._engine.path, info).copy()
        if deleted[docnum]:
            return False
        deleted[docnum] = True
        return True

    def _segment_ids(self) -> list[tuple[SegmentInfo, SegmentArrays]]:
        """The committed segments' id tables, read once per session."""
        if self._ids is None:
            self._ids = [
                (info, SegmentArrays.load(self._engine.path / f"{info.id}{POSTINGS_SUFFIX}"))
                for info in self._base.segments
            ]
        return self._ids

    def _with_deletions(self, info: SegmentInfo, generation: int) -> SegmentInfo:
        deleted = self._deleted.get(info.id)
        if deleted is None or int(deleted.sum()) == info.deleted_count:
            return info
        name, count, checked = write_deletions(self._engine.path, info.id, generation, deleted)
        return info.with_deletions(name, count, checked)

    def commit(self, *, optimize: bool = False, segments: Iterable[SegmentInfo] = ()) -> None:
        """Commit; ``segments`` written by ``Engine.write_segment`` become visible too.
        The commit returns once it is durable; the merge policy then runs in the
        background (``engine.scheduler``); ``optimize`` merges everything into one now.

        A failed write (a full disk) raises ``IndexWriteError`` and leaves the previous
        commit as it was; a failed merge after a commit only warns, unless ``optimize``
        asked for it."""
        try:
            new = list(segments)
            if new or self._changed:
                generation = self._base.generation + 1
                try:
                    kept = [self._with_deletions(s, generation) for s in self._base.segments]
                    added = [self._with_deletions(s, generation) for s in new]
                    extra = {**self._base.extra, **self._extra}
                    commit = CommitPoint(generation, tuple(kept + added), extra)
                    self._engine.publish(commit)
                except OSError as exc:
                    with contextlib.suppress(OSError, SearchlibError):
                        self._engine.remove_unreferenced()
                    landed = self._engine.generation() >= generation
                    raise write_error(self._engine.path, "commit", exc, landed=landed) from exc
                self._engine.forget_snapshot()
            try:
                if optimize:
                    self._engine.merge(optimize=True)
                elif new or self._changed:
                    self._engine.after_commit()
            except OSError as exc:
                if optimize:
                    raise write_error(self._engine.path, "merge", exc) from exc
                warnings.warn(
                    f"merging segments of {str(self._engine.path)!r} failed ({exc}); "
                    "the commit stands and the merge is tried again at the next commit",
                    RuntimeWarning,
                    stacklevel=3,
                )
        finally:
            self._finish()

    @property
    def is_open(self) -> bool:
        """Not yet committed or cancelled."""
        return self._open

    def cancel(self) -> None:
        """Drop everything this session wrote (segments of its workers included)."""
        try:
            with contextlib.suppress(OSError, SearchlibError):
                self._engine.remove_unreferenced()
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._open:
            self._open = False
            self._lock.release()


def write_error(path: Path, step: str, exc: OSError, *, landed: bool = False) -> IndexWriteError:
    """The error a failed index write raises, saying what still stands."""
    if isinstance(exc, IndexWriteError):
        return exc
    reason = "the disk is full" if exc.errno == errno.ENOSPC else str(exc)
    state = (
        "the commit was written but may not be durable"
        if landed
        else "the previous commit is intact"
    )
    return IndexWriteError(
        f"cannot write the index at {str(path)!r} ({step}): {reason}; {state} "
        "(free space or fix the cause, then retry)"
    )
