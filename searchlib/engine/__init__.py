"""The storage engine: everything that touches Whoosh lives in this package.

``Engine`` creates and opens an index directory, hands out ``Snapshot`` views for
searching (refreshed when a new commit appears) and ``EngineWriter`` sessions for
writing. The rest of searchlib sees only these three objects, so the engine could be
swapped without touching analysis, ranking, queries or snippets.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
import time
import warnings
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from searchlib.analysis import Analyzer
from searchlib.engine.arrays import SegmentArrays, SegmentFileWriter, arrays_path
from searchlib.engine.bulk import BulkAdder, raw_stored_reader
from searchlib.engine.merge import MergePolicy, MergeSource, merge_postings, select_merges
from searchlib.engine.schema import (
    DATE_OFFSET,
    EXACT,
    FORMAT_VERSION,
    LABEL_COLUMNS,
    LENGTH_FIELD,
    MISSING_DATE,
    NUMBER_COLUMNS,
    TEXT_FIELDS,
    build_schema,
)
from searchlib.engine.snapshot import SCORED_FIELDS, Snapshot, whoosh_arrays
from searchlib.engine.storage import DurableFileStorage, WriterLock, fsync_directory
from searchlib.errors import (
    IndexNotFoundError,
    IndexVersionError,
    IndexWriteError,
    SearchlibError,
)

__all__ = [
    "DATE_OFFSET",
    "EXACT",
    "LENGTH_FIELD",
    "MISSING_DATE",
    "TEXT_FIELDS",
    "Engine",
    "EngineWriter",
    "Snapshot",
    "remove_segment_files",
    "write_error",
]

MARKER = "searchlib.json"
INDEX_NAME = "MAIN"
# Merge rounds after one commit at most (a merge can complete a level above it).
MAX_MERGE_ROUNDS = 8


def _codec() -> Any:
    """Whoosh's W3 codec with zlib's fastest level for posting blocks (most of our
    posting lists are short: four text fields); any Whoosh reader reads it.

    Segments are written as separate files, not one compound file: Whoosh reads a
    compound file through an mmap but copies every part it opens into memory."""
    from whoosh.codec.whoosh3 import W3Codec

    return W3Codec(compression=1)


class EngineWriter:
    """A write session: holds the writer lock until ``commit()`` or ``cancel()``."""

    def __init__(self, engine: Engine, timeout: float, *, bulk: bool = True) -> None:
        from whoosh.writing import SegmentWriter

        self._engine = engine
        self._lock = WriterLock(engine.storage, timeout).acquire()
        try:
            # Whoosh's own lock is replaced by ours (same file, same fcntl lock), which
            # records who holds it.
            self._writer = SegmentWriter(
                engine.whoosh_index(), _lk=False, limitmb=256, codec=_codec(), compound=False
            )
        except BaseException as exc:
            with contextlib.suppress(OSError):
                engine.remove_uncommitted()
            self._lock.release()
            if isinstance(exc, OSError):
                raise write_error(engine.path, "writer", exc) from exc
            raise
        self._temps = _temp_folders(self._writer)
        self._reader: Any = None
        # bulk=False keeps Whoosh's own add_document path (the reference for tests).
        self._bulk = (
            BulkAdder(self._writer, SCORED_FIELDS, NUMBER_COLUMNS, LABEL_COLUMNS) if bulk else None
        )
        self._open = True
        self._changed = False  # anything added or deleted in this session

    def add(self, fields: dict[str, Any], *, upsert: bool = True) -> None:
        self._changed = True
        if upsert:
            self.delete(fields["id"])
        if self._bulk is not None:
            self._bulk.add(fields)
        else:
            self._writer.add_document(**fields)

    def delete(self, doc_id: str) -> int:
        """Delete every committed document with ``doc_id``; returns how many."""
        reader = self._id_reader()
        if ("id", doc_id) not in reader:
            return 0
        count = 0
        for docnum in reader.postings("id", doc_id).all_ids():
            if not self._writer.is_deleted(docnum):
                self._writer.delete_document(docnum)
                self._changed = True
                count += 1
        return count

    def delete_many(self, doc_ids: Iterable[str]) -> int:
        """Delete every committed document with one of ``doc_ids``; returns how many."""
        doc_ids = list(doc_ids)
        reader = self._id_reader()
        total = reader.doc_count_all()
        if not doc_ids or not total:
            return 0
        leaves = [leaf for leaf, _offset in reader.leaf_readers()]
        if len(doc_ids) * len(leaves) > total:
            # Many ids: one pass over the id terms beats a hash lookup per id and segment.
            wanted = {doc_id.encode("utf-8") for doc_id in doc_ids}
            present = {raw for leaf in leaves for raw in leaf.lexicon("id") if raw in wanted}
            doc_ids = [doc_id for doc_id in doc_ids if doc_id.encode("utf-8") in present]
        return sum(self.delete(doc_id) for doc_id in doc_ids)

    def _id_reader(self) -> Any:
        # One reader over the committed segments for all of this session's deletes
        # (Whoosh's delete_by_term opens a searcher per call).
        if self._reader is None:
            self._reader = self._writer.reader()
        return self._reader

    def commit(self, *, optimize: bool = False, segments: list[Any] = ()) -> None:
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
            if self._reader is not None:
                self._reader.close()
            remove_temp_folders(self._temps)
            self._lock.release()


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
        if leftovers and not all(_from_unfinished_create(p.name) for p in leftovers):
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
        _remove_leftovers(folder)
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

    def write_segment(self, documents: Any) -> Any:
        """Write ``documents`` (engine fields) as a complete new segment and return it,
        without committing: it becomes visible when a writer commits it. The caller
        must hold the writer lock (workers of a writer do)."""
        from whoosh.writing import SegmentWriter

        writer = SegmentWriter(self._index, _lk=False, limitmb=64, codec=_codec(), compound=False)
        adder = BulkAdder(writer, SCORED_FIELDS, NUMBER_COLUMNS, LABEL_COLUMNS)
        try:
            for fields in documents:
                adder.add(fields)
            segment = writer._finalize_segment()
        except BaseException as exc:
            writer.cancel()
            remove_segment_files(self.path, writer.newsegment)
            if isinstance(exc, OSError):
                raise write_error(self.path, "segment", exc) from exc
            raise
        remove_temp_folders(_temp_folders(writer))
        return segment

    def merge(self, *, optimize: bool = False, policy: MergePolicy | None = None) -> int:
        """Merge segments as the policy asks (or all of them into one, and away every
        deleted document, with ``optimize``); each round of merges is one commit.
        Returns how many merges ran. Call with the writer lock held."""
        policy = policy or self.merge_policy
        done = 0
        for _round in range(MAX_MERGE_ROUNDS):
            current = self._index._segments()
            sizes = [(segment.doc_count(), segment.doc_count_all()) for segment in current]
            if optimize:
                needed = len(current) > 1 or any(live < total for live, total in sizes)
                groups = [list(range(len(current)))] if needed else []
            else:
                groups = select_merges(sizes, policy)
            if not groups:
                break
            merged: dict[int, Any] = {}
            dropped = {n for group in groups for n in group[1:]}
            writer = None
            try:
                for group in groups:
                    merged[group[0]] = self._merge_group([current[n] for n in group])
                writer = self._segment_writer()
                writer.commit(mergetype=partial(_replace_groups, merged=merged, dropped=dropped))
            except BaseException:
                if writer is not None and not writer.is_closed:
                    writer.cancel()
                with contextlib.suppress(OSError):
                    self.remove_uncommitted()
                raise
            done += len(groups)
            if optimize:
                break
        if done:
            self._snapshot = None
        return done

    def remove_uncommitted(self) -> None:
        """Delete the files of segments no commit refers to (what a failed or cancelled
        write left). Call with the writer lock held, and no segment being written."""
        from whoosh.index import clean_files

        try:
            toc = self._index._read_toc()
        except Exception:  # no readable commit at all: nothing is safe to delete
            return
        clean_files(self.storage, INDEX_NAME, toc.generation, toc.segments)
        _remove_temp_files(self.path)

    def _segment_writer(self) -> Any:
        from whoosh.writing import SegmentWriter

        return SegmentWriter(self._index, _lk=False, limitmb=64, codec=_codec(), compound=False)

    def _merge_group(self, segments: list[Any]) -> Any | None:
        """Write one segment holding the live documents of ``segments``; None if they
        have none."""
        from whoosh.reading import SegmentReader

        readers = [SegmentReader(self.storage, self._index.schema, s) for s in segments]
        try:
            sources = []
            base = 0
            for segment, reader in zip(segments, readers, strict=True):
                live = np.ones(segment.doc_count_all(), dtype=bool)
                if segment.has_deletions():
                    live[np.fromiter(segment.deleted_docs(), np.int64)] = False
                docmap = np.where(live, np.cumsum(live) - 1 + base, -1)
                base += int(live.sum())
                saved = SegmentArrays.load(arrays_path(self.path, segment.segment_id()))
                arrays = saved or whoosh_arrays(reader, SCORED_FIELDS)
                sources.append((reader, live, docmap, arrays))
            if not base:
                return None
            writer = self._segment_writer()
            adder = BulkAdder(writer, SCORED_FIELDS, NUMBER_COLUMNS, LABEL_COLUMNS)
            try:
                for reader, live, _docmap, arrays in sources:
                    count = len(live)
                    numbers = {
                        name: _column(arrays, reader, name, count) for name in NUMBER_COLUMNS
                    }
                    keys = _keys(arrays, reader, count)
                    raw = raw_stored_reader(reader)
                    for docnum in np.flatnonzero(live).tolist():
                        adder.copy_document(
                            raw(docnum),
                            {name: values[docnum] for name, values in keys.items()},
                            {name: int(column[docnum]) for name, column in numbers.items()},
                        )

                def postings(file: SegmentFileWriter) -> None:
                    for name in SCORED_FIELDS:
                        merge_postings(
                            file,
                            name,
                            [
                                MergeSource(a.fields.get(name), docmap)
                                for _r, _l, docmap, a in sources
                            ],
                        )

                adder.arrays_source = postings
                segment = writer._finalize_segment()
            except BaseException:
                writer.cancel()
                remove_segment_files(self.path, writer.newsegment)
                raise
            remove_temp_folders(_temp_folders(writer))
            return segment
        finally:
            for reader in readers:
                reader.close()

    def writer(self, timeout: float, *, bulk: bool = True) -> EngineWriter:
        return EngineWriter(self, timeout, bulk=bulk)

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def last_commit_time(self) -> float | None:
        tocs = list(self.path.glob(f"_{INDEX_NAME}_*.toc"))
        return max((t.stat().st_mtime for t in tocs), default=None)

    def segment_count(self) -> int:
        return len(self.snapshot()._leaves)


def _replace_groups(
    writer: Any, segments: list[Any], *, merged: dict[int, Any], dropped: set[int]
) -> list[Any]:
    """A merge policy for Whoosh's commit: each merged segment takes its first source's
    place (document order is kept), its other sources go."""
    out = []
    for number, segment in enumerate(segments):
        if number in merged:
            if merged[number] is not None:
                out.append(merged[number])
        elif number not in dropped:
            out.append(segment)
    return out


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


def _keys(arrays: SegmentArrays, reader: Any, count: int) -> dict[str, list[str | None]]:
    """A segment's ids and labels per document: saved with its postings, else read
    from its stored fields."""
    ids = arrays.strings("id")
    labels = {name: arrays.labels(name) for name in LABEL_COLUMNS}
    if (
        ids is not None
        and len(ids) == count
        and all(found is not None and len(found[0]) == count for found in labels.values())
    ):
        keys: dict[str, list[str | None]] = {"id": list(ids)}
        for name, (codes, strings) in labels.items():  # type: ignore[misc]
            keys[name] = [strings[c] if c >= 0 else None for c in codes.tolist()]
        return keys
    stored = [reader.stored_fields(d) for d in range(count)]
    return {name: [doc.get(name) for doc in stored] for name in ("id", *LABEL_COLUMNS)}


def _column(arrays: SegmentArrays, reader: Any, name: str, count: int) -> np.ndarray:
    """A number column of a segment: saved with its postings, else Whoosh's."""
    saved = arrays.column(name)
    if saved is not None and len(saved) == count:
        return saved
    return np.fromiter(reader.column_reader(name), np.uint64, count)


def _from_unfinished_create(name: str) -> bool:
    """Files an interrupted ``Engine.create`` may leave (it writes the marker last)."""
    # Only an empty table of contents: never a segment, so no documents can be lost.
    return name in ("WRITELOCK", f"_{INDEX_NAME}_0.toc") or name.startswith(MARKER)


def _temp_folders(segment_writer: Any) -> list[str]:
    """The temporary folders a Whoosh segment writer made (it leaves some behind)."""
    folders = [segment_writer._tempstorage.folder]
    columns = getattr(segment_writer.perdocwriter, "_cols", None)
    if columns is not None:
        folders.append(columns._tempstorage.folder)
    return folders


def remove_segment_files(folder: Path, segment: Any) -> None:
    """Delete the files of a segment that was written but never committed."""
    for path in Path(folder).glob(f"{segment.segment_id()}.*"):
        with contextlib.suppress(OSError):
            path.unlink()


def remove_temp_folders(folders: list[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_temp_files(folder: Path) -> None:
    """Whoosh's temporary storage folders, pool runs, compound-file temps and unrenamed
    tables of contents, and our unfinished postings files. Only when no writer runs."""
    for pattern in ("*.tmp", "*.ctmp", "*.run", "*.partial", f"_{INDEX_NAME}_*.toc.*"):
        for leftover in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()


def _remove_leftovers(folder: Path) -> None:
    """Delete temp files a killed writer left behind, when no writer is running now."""
    storage = DurableFileStorage(str(folder))
    lock = storage.lock("WRITELOCK")
    if not lock.acquire(blocking=False):
        return  # a live writer owns the directory; its temp files are not leftovers
    try:
        _remove_temp_files(folder)
    finally:
        lock.release()
