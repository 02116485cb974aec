"""Bulk indexing on the cluster: each input file is read on a worker, its records
validated there and routed straight to their shards' replicas (worker to worker), so
neither the records nor their analysis pass through the client.

A file is a local path every worker can read, or an fsspec URL (``s3://...``,
``memory://...``), JSON Lines, JSON, CSV or seed ``.txt``, optionally gzip'd. Bad
records are reported with file:line, as ``search index`` does. Writes are upserts, so
running the same files again after a failure is safe.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchlib.cluster.catalog import shard_of
from searchlib.ingest import BadRecord, IngestSummary, index_paths

__all__ = ["FileReport", "ingest_file", "is_url"]


def is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


@dataclass
class FileReport:
    """What one file's task did: counts, bad records, replicas that failed a write."""

    location: str
    summary: IngestSummary
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # shard, replica, why
    committed: set[int] = field(default_factory=set)  # shards some replica committed


class _Unacknowledged(Exception):
    pass


class _ShardRouter:
    """What ``index_paths`` writes to, inside a worker: records grouped by shard and
    sent to every replica of their shard; acknowledged when all commit."""

    def __init__(self, actors: list[list[Any]], report: FileReport) -> None:
        self.actors = actors
        self.report = report

    def _by_shard(self, ids: Iterable[str]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for doc_id in ids:
            out.setdefault(shard_of(doc_id, len(self.actors)), []).append(doc_id)
        return out

    def count_existing(self, ids: Iterable[str]) -> int:
        """Counted on any replica of each shard that answers (they hold the same)."""
        total = 0
        for shard, part in self._by_shard(ids).items():
            errors = []
            for replica, actor in enumerate(self.actors[shard]):
                try:
                    total += actor.count_existing(part).result()
                    break
                except Exception as exc:
                    errors.append((shard, replica, f"{type(exc).__name__}: {exc}"[:300]))
            else:  # no replica of the shard answers: nothing more can be written to it
                self.report.failed.extend(errors)
                raise _Unacknowledged
        return total

    def add(self, records: list[dict[str, Any]]) -> int:
        by_id = {record["id"]: record for record in records}
        sent = []
        for shard, ids in self._by_shard(by_id).items():
            part = [by_id[doc_id] for doc_id in ids]
            for replica, actor in enumerate(self.actors[shard]):
                sent.append((shard, replica, actor.add(part)))
        for shard, replica, future in sent:
            try:
                future.result()
                self.report.committed.add(shard)
            except Exception as exc:
                self.report.failed.append((shard, replica, f"{type(exc).__name__}: {exc}"[:300]))
        if self.report.failed:
            raise _Unacknowledged
        return len(records)


def ingest_file(location: str, actors: list[list[Any]], batch_size: int) -> FileReport:
    """The task run on a worker for one input file."""
    report = FileReport(location, IngestSummary())
    router = _ShardRouter(actors, report)
    with tempfile.TemporaryDirectory(prefix="searchlib-ingest-") as temp:
        path = Path(location.removeprefix("file://"))
        if is_url(location):
            path = _fetch(location, Path(temp))
        try:
            report.summary = index_paths(router, [path], batch_size=batch_size)
        except _Unacknowledged:
            pass
        except OSError as exc:
            report.summary.bad.append(BadRecord(location, f"cannot read: {exc}"))
        for bad in report.summary.bad:  # name the URL, not the temporary copy
            bad.location = bad.location.replace(str(path), location)
    return report


def _fetch(url: str, folder: Path) -> Path:
    """A local copy of ``url`` (its name kept, so its kind and compression are known)."""
    import fsspec

    name = os.path.basename(url.rstrip("/")) or "input.jsonl"
    target = folder / name
    with fsspec.open(url, "rb") as source, open(target, "wb") as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk)
    return target
