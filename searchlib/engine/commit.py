"""Commit points and deletions: which segments make up the index, as data.

A commit is ``commit.<generation>.json`` (checked JSON, ``engine.checksum``): the
segments in document order, each with its document count, its files' sizes and
checksums, and its deletions file. A commit is made durable by writing it under a
temporary name, fsyncing it and renaming it (then fsyncing the directory): readers see
the old commit or the new one, never a mix. The newest readable generation is the
index; files no commit refers to are removed by the writer after it commits.

Deletions of a segment are a bitset (``<segment id>.<generation>.del``, with a checksum
footer): a segment's files never change, so deleting writes a new bitset and a commit
naming it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from searchlib.engine import storage
from searchlib.engine.checksum import (
    FOOTER_SIZE,
    ChecksumWriter,
    check_footer,
    dump_checked_json,
    load_checked_json,
)
from searchlib.errors import IndexCorruptError

__all__ = [
    "CommitPoint",
    "SegmentInfo",
    "commit_generations",
    "new_segment_id",
    "read_commit",
    "read_deletions",
    "write_commit",
    "write_deletions",
]

_COMMIT = re.compile(r"commit\.(\d+)\.json")
DELETIONS_MAGIC = b"SLDL"


def new_segment_id() -> str:
    return f"seg_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class SegmentInfo:
    """One immutable segment: ``id`` names its files (``<id>.slp`` postings and
    columns, ``<id>.sld`` stored documents); ``files`` maps each to (size, crc32);
    ``deletions`` names its current deletions file (None: nothing deleted)."""

    id: str
    doc_count: int
    files: dict[str, tuple[int, int]]
    deleted_count: int = 0
    deletions: str | None = None
    deletion_file: tuple[int, int] | None = None  # (size, crc32) of ``deletions``

    @property
    def live_count(self) -> int:
        return self.doc_count - self.deleted_count

    def file_names(self) -> list[str]:
        names = list(self.files)
        if self.deletions is not None:
            names.append(self.deletions)
        return names

    def with_deletions(self, name: str, count: int, checked: tuple[int, int]) -> SegmentInfo:
        return replace(self, deletions=name, deleted_count=count, deletion_file=checked)

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "docs": self.doc_count,
            "files": {name: list(value) for name, value in self.files.items()},
            "deleted": self.deleted_count,
            "deletions": self.deletions,
            "deletion_file": list(self.deletion_file) if self.deletion_file else None,
        }

    @classmethod
    def from_data(cls, data: Any) -> SegmentInfo:
        files = {str(k): (int(v[0]), int(v[1])) for k, v in dict(data["files"]).items()}
        deletions = data["deletions"]
        checked = data["deletion_file"]
        info = cls(
            id=str(data["id"]),
            doc_count=int(data["docs"]),
            files=files,
            deleted_count=int(data["deleted"]),
            deletions=None if deletions is None else str(deletions),
            deletion_file=None if checked is None else (int(checked[0]), int(checked[1])),
        )
        names = info.file_names()
        if not 0 <= info.deleted_count <= info.doc_count or any(
            "/" in n or "\\" in n or n.startswith(".") or not n.startswith(info.id) for n in names
        ):
            raise ValueError(f"segment {info.id!r} is inconsistent")
        return info


@dataclass(frozen=True)
class CommitPoint:
    """One commit: its generation and segments, in document order."""

    generation: int
    segments: tuple[SegmentInfo, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def doc_count(self) -> int:
        return sum(s.live_count for s in self.segments)

    def file_names(self) -> set[str]:
        return {name for segment in self.segments for name in segment.file_names()}


def commit_generations(folder: Path) -> list[int]:
    """The generations of the commit files in ``folder``, newest first."""
    found = []
    for name in os.listdir(folder):
        match = _COMMIT.fullmatch(name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found, reverse=True)


def commit_path(folder: Path, generation: int) -> Path:
    return Path(folder) / f"commit.{generation}.json"


def read_commit(folder: Path, generation: int) -> CommitPoint:
    path = commit_path(folder, generation)
    body = load_checked_json(path, storage.read_small_file(path))
    try:
        if int(body["generation"]) != generation:
            raise ValueError("generation differs from the file name")
        segments = tuple(SegmentInfo.from_data(s) for s in body["segments"])
        extra = dict(body.get("extra") or {})
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise IndexCorruptError(f"index file {str(path)!r} is damaged: {exc}") from exc
    if len({s.id for s in segments}) != len(segments):
        raise IndexCorruptError(f"index file {str(path)!r} names a segment twice")
    return CommitPoint(generation, segments, extra)


def write_commit(folder: Path, commit: CommitPoint) -> None:
    """Publish ``commit`` atomically and durably."""
    body = {
        "generation": commit.generation,
        "segments": [s.to_data() for s in commit.segments],
        "extra": commit.extra,
    }
    storage.write_atomically(commit_path(folder, commit.generation), dump_checked_json(body))


def write_deletions(folder: Path, segment_id: str, generation: int, deleted: np.ndarray) -> tuple:
    """Write a segment's deletions (a bool per document) durably; returns (file name,
    deleted count, (size, crc32))."""
    name = f"{segment_id}.{generation}.del"
    path = Path(folder) / name
    payload = DELETIONS_MAGIC + len(deleted).to_bytes(8, "little") + np.packbits(deleted).tobytes()
    try:
        with storage.create_data_file(path) as handle:
            out = ChecksumWriter(handle)
            out.write(payload)
            crc = out.finish()
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return name, int(np.count_nonzero(deleted)), (len(payload) + FOOTER_SIZE, crc)


def read_deletions(folder: Path, segment: SegmentInfo) -> np.ndarray:
    """Which of ``segment``'s documents are deleted (a bool per document)."""
    if segment.deletions is None:
        return np.zeros(segment.doc_count, dtype=bool)
    path = Path(folder) / segment.deletions
    expected = segment.deletion_file
    # A bit per document and a footer: read no more than that could be.
    data = storage.read_small_file(path, segment.doc_count // 8 + 4096)
    crc, length = check_footer(path, data)
    if expected is not None and (expected[0] != len(data) or expected[1] != crc):
        raise IndexCorruptError(f"index file {str(path)!r} differs from its commit (damaged)")
    if zlib.crc32(data[:length]) != crc:
        raise IndexCorruptError(f"index file {str(path)!r} fails its checksum (damaged)")
    if data[:4] != DELETIONS_MAGIC or int.from_bytes(data[4:12], "little") != segment.doc_count:
        raise IndexCorruptError(f"index file {str(path)!r} is not this segment's deletions")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, count=length - 12, offset=12))
    deleted = bits[: segment.doc_count].astype(bool)
    if len(deleted) != segment.doc_count or int(deleted.sum()) != segment.deleted_count:
        raise IndexCorruptError(f"index file {str(path)!r} differs from its commit (damaged)")
    return deleted
