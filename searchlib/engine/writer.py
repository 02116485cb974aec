"""``EngineWriter``: one write session on an index, holding the writer lock.

It deletes by id, adds documents (through ``BulkAdder``: stored fields to Whoosh,
postings to the segment's postings file), and commits them with the segments workers
wrote, in one atomic commit; then it lets the engine run the merge policy. A failed
write raises ``IndexWriteError`` and leaves the previous commit as it was.
"""

from __future__ import annotations

import contextlib
import errno
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh.reading import SegmentReader

from searchlib.engine import whoosh_adapter
from searchlib.engine.arrays import SegmentArrays, arrays_path, hash_terms
from searchlib.engine.bulk import BulkAdder
from searchlib.engine.schema import (
    LABEL_COLUMNS,
    NUMBER_COLUMNS,
    EngineDocument,
    whoosh_fields,
)
from searchlib.engine.snapshot import SCORED_FIELDS, whoosh_arrays
from searchlib.engine.storage import WriterLock, remove_temp_folders
from searchlib.errors import IndexWriteError

if TYPE_CHECKING:
    from searchlib.engine import Engine

__all__ = ["EngineWriter", "write_error"]


class EngineWriter:
    """A write session: holds the writer lock until ``commit()`` or ``cancel()``."""

    def __init__(self, engine: Engine, timeout: float, *, bulk: bool = True) -> None:
        self._engine = engine
        self._lock = WriterLock(engine.storage, timeout).acquire()
        try:
            # Whoosh's own lock is replaced by ours (same file, same fcntl lock), which
            # records who holds it.
            self._writer = whoosh_adapter.new_segment_writer(engine.whoosh_index(), limitmb=256)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                engine.remove_uncommitted()
            self._lock.release()
            if isinstance(exc, OSError):
                raise write_error(engine.path, "writer", exc) from exc
            raise
        self._temps = whoosh_adapter.temp_folders(self._writer)
        self._ids: list[tuple[int, SegmentArrays]] | None = None
        # bulk=False keeps Whoosh's own add_document path (the reference for tests).
        self._bulk = (
            BulkAdder(self._writer, SCORED_FIELDS, NUMBER_COLUMNS, LABEL_COLUMNS) if bulk else None
        )
        self._open = True
        self._changed = False  # anything added or deleted in this session

    def add(self, doc: EngineDocument, *, upsert: bool = True) -> None:
        self._changed = True
        if upsert:
            self.delete(doc.id)
        if self._bulk is not None:
            self._bulk.add(doc)
        else:
            self._writer.add_document(**whoosh_fields(doc))

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
        for offset, arrays in self._segment_ids():
            for _index, doc in arrays.id_documents(wanted, keys):
                if not self._writer.is_deleted(offset + doc):
                    self._writer.delete_document(offset + doc)
                    count += 1
        self._changed = self._changed or count > 0
        return count

    def _segment_ids(self) -> list[tuple[int, SegmentArrays]]:
        """The committed segments' id tables with their first document numbers, read
        once per session."""
        if self._ids is None:
            self._ids = []
            offset = 0
            schema = self._engine.whoosh_index().schema
            for segment in self._writer.segments:
                arrays = SegmentArrays.load(arrays_path(self._engine.path, segment.segment_id()))
                if arrays is None:  # written by Whoosh's own writer
                    reader = SegmentReader(self._engine.storage, schema, segment)
                    try:
                        arrays = whoosh_arrays(reader, ())
                    finally:
                        reader.close()
                self._ids.append((offset, arrays))
                offset += segment.doc_count_all()
        return self._ids

    def commit(self, *, optimize: bool = False, segments: Iterable[Any] = ()) -> None:
        """Commit; ``segments`` written by ``Engine.write_segment`` become visible too.
        Whoosh never merges: the merge policy runs after the commit (``Engine.merge``),
        still under this writer's lock; ``optimize`` merges everything into one.

        A failed write (a full disk) raises ``IndexWriteError`` and leaves the previous
        commit as it was; a failed merge after a commit only warns, unless ``optimize``
        asked for it."""
        try:
            new = list(segments)
            generation = self._writer.generation  # the one this commit writes
            try:
                if new or self._changed:
                    self._writer.commit(mergetype=lambda writer, current: list(current) + new)
                else:  # nothing to commit (an optimize): no new generation
                    self._writer.cancel()
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self._engine.remove_uncommitted()
                landed = self._engine.generation() >= generation
                raise write_error(self._engine.path, "commit", exc, landed=landed) from exc
            try:
                self._engine.merge(optimize=optimize)
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
            # Closing the segment's files writes their trailers, which a full disk
            # refuses: they are deleted next anyway.
            with contextlib.suppress(OSError):
                self._writer.cancel()
            with contextlib.suppress(OSError):
                self._engine.remove_uncommitted()
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._open:
            self._open = False
            remove_temp_folders(self._temps)
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
