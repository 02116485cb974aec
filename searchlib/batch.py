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

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from searchlib.document import Article, normalize_record

__all__ = ["BatchResult", "WriteBatch", "staged_records"]


class BatchResult(NamedTuple):
    """(added or replaced, deleted) counts of a committed batch."""

    added: int
    deleted: int


def staged_records(records: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Validated records by id, the last of an id winning (``DocumentError`` names a
    bad record and its field)."""
    staged: dict[str, dict[str, Any]] = {}
    for record in records:
        doc = normalize_record(record)
        staged.pop(doc["id"], None)
        staged[doc["id"]] = doc
    return staged


class WriteBatch:
    """Collects writes for one commit; use as a context manager or call ``commit()``.
    ``apply`` is the index's commit of (records to add, ids to delete)."""

    def __init__(self, apply: Callable[[list[dict[str, Any]], list[str]], BatchResult]) -> None:
        self._apply = apply
        self._operations: dict[str, dict[str, Any] | None] = {}  # None means delete
        self._done = False

    def add(self, docs: Article | Mapping[str, Any] | Iterable[Any]) -> int:
        """Validate and queue records (upsert by id); returns how many were queued."""
        self._check_open()
        if isinstance(docs, (Mapping, Article)):
            docs = [docs]
        if isinstance(docs, (str, bytes)):
            raise TypeError("add() takes a record or an iterable of records, not a string")
        staged = staged_records(docs)
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
        return self._apply(adds, deletes)

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
