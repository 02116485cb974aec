"""``WriteBatch``: adds and deletes applied together in one atomic commit.

Records are validated when they are added to the batch, so a bad record raises at
once; they are analyzed and written at commit, by worker processes for large batches.
The last operation on an id wins
(add then delete deletes; delete then add replaces).

>>> import tempfile, searchlib
>>> ix = searchlib.Index.create(tempfile.mkdtemp() + "/ix")
>>> with ix.batch() as batch:
...     _ = batch.add({"id": "1", "body": "gempa di Maluku"})
...     batch.delete("old-id")
>>> len(ix)
1
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from searchlib.document import Article, normalize_record
from searchlib.engine import write_error
from searchlib.indexing import PARALLEL_MIN_DOCS, build_segments, engine_fields

if TYPE_CHECKING:
    from searchlib.index import Index

__all__ = ["STREAM_CHUNK", "BatchResult", "WriteBatch", "add_stream"]

# Records analyzed and written per step of a streaming add (bounds its memory).
STREAM_CHUNK = 20_000


class BatchResult(NamedTuple):
    """(added or replaced, deleted) counts of a committed batch."""

    added: int
    deleted: int


class WriteBatch:
    """Collects writes for one commit; use as a context manager or call ``commit()``."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._operations: dict[str, dict[str, Any] | None] = {}  # None means delete
        self._done = False

    def add(self, docs: Article | Mapping[str, Any] | Iterable[Any]) -> int:
        """Validate and queue records (upsert by id); returns how many were queued."""
        self._check_open()
        if isinstance(docs, (Mapping, Article)):
            docs = [docs]
        if isinstance(docs, (str, bytes)):
            raise TypeError("add() takes a record or an iterable of records, not a string")
        staged: dict[str, dict[str, Any]] = {}
        records: Iterable[Any] = docs
        for record in records:
            doc = normalize_record(record)  # raises DocumentError for anything else
            staged.pop(doc["id"], None)
            staged[doc["id"]] = doc
        for doc_id, doc in staged.items():
            self._operations.pop(doc_id, None)
            self._operations[doc_id] = doc
        return len(staged)

    def delete(self, ids: str | Iterable[str]) -> None:
        """Queue deletions by id."""
        self._check_open()
        if isinstance(ids, str):
            ids = [ids]
        for doc_id in ids:
            if not isinstance(doc_id, str):
                raise TypeError(f"ids must be strings, not {type(doc_id).__name__}: {doc_id!r}")
            self._operations.pop(doc_id, None)
            self._operations[doc_id] = None

    def __len__(self) -> int:
        return len(self._operations)

    def commit(self) -> BatchResult:
        """Apply every queued write in one atomic commit."""
        self._check_open()
        self._done = True
        adds = [doc for doc in self._operations.values() if doc is not None]
        deletes = [doc_id for doc_id, doc in self._operations.items() if doc is None]
        if not adds and not deletes:
            return BatchResult(0, 0)
        index = self._index
        engine = index._engine
        workers = index.workers
        with index._write_mutex:
            writer = engine.writer(index.lock_timeout)
            try:
                deleted = writer.delete_many(deletes)
                writer.delete_many(doc["id"] for doc in adds)  # upserts replace
                segments = []
                if workers > 1 and len(adds) >= PARALLEL_MIN_DOCS:
                    segments = build_segments(str(engine.path), adds, workers, engine.analyzer)
                else:
                    analyzer = engine.analyzer
                    for doc in adds:
                        writer.add(engine_fields(analyzer, doc), upsert=False)
            except BaseException as exc:
                writer.cancel()
                if isinstance(exc, OSError):
                    raise write_error(engine.path, "add", exc) from exc
                raise
            if adds or deleted:
                writer.commit(segments=segments)
            else:
                writer.cancel()
        index._save_stems()
        return BatchResult(len(adds), deleted)

    def discard(self) -> None:
        """Drop every queued write."""
        self._operations.clear()
        self._done = True

    def _check_open(self) -> None:
        if self._done:
            raise RuntimeError("this batch was already committed or discarded")

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def add_stream(index: Index, records: Iterable[Any], chunk_size: int | None = None) -> int:
    """Add (upsert) ``records`` from any iterable in one atomic commit, with memory
    bounded by ``chunk_size``: each chunk is validated, analyzed and written as
    segments that stay invisible until the final commit. A bad record raises and leaves
    the index as it was. Returns how many distinct ids were added or replaced."""
    chunk_size = chunk_size or STREAM_CHUNK
    iterator = iter(records)
    first = list(islice(iterator, chunk_size))
    if len(first) < chunk_size:  # it all fits one batch
        batch = WriteBatch(index)
        batch.add(first)
        return batch.commit().added
    engine = index._engine
    analyzer = engine.analyzer
    with index._write_mutex:
        writer = engine.writer(index.lock_timeout)
        segments: list[Any] = []
        # This call's ids -> (its uncommitted segment, document number there), so a
        # later record with the same id replaces an earlier one.
        placed: dict[str, tuple[Any, int]] = {}
        try:
            for chunk in _chunks(first, iterator, chunk_size):
                staged: dict[str, dict[str, Any]] = {}
                for record in chunk:
                    doc = normalize_record(record)
                    staged.pop(doc["id"], None)
                    staged[doc["id"]] = doc
                fresh = []
                for doc_id in staged:
                    earlier = placed.get(doc_id)
                    if earlier is None:
                        fresh.append(doc_id)
                    else:
                        earlier[0].delete_document(earlier[1])
                writer.delete_many(fresh)  # committed documents these replace
                docs = list(staged.values())
                if index.workers > 1 and len(docs) >= PARALLEL_MIN_DOCS:
                    written = build_segments(str(engine.path), docs, index.workers, analyzer)
                else:
                    written = [engine.write_segment(engine_fields(analyzer, d) for d in docs)]
                at = 0
                for segment in written:
                    for local in range(segment.doc_count_all()):
                        placed[docs[at]["id"]] = (segment, local)
                        at += 1
                segments.extend(written)
        except BaseException as exc:
            writer.cancel()  # drops the segments written so far
            if isinstance(exc, OSError):
                raise write_error(engine.path, "add", exc) from exc
            raise
        writer.commit(segments=segments)
    index._save_stems()
    return len(placed)


def _chunks(first: list[Any], rest: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk = first
    while chunk:
        yield chunk
        chunk = list(islice(rest, size))
