"""Checksums on every index file, as Lucene's codec footers.

Binary files (postings, stored documents, deletions) end with a 16-byte footer:
``FOOTER_MAGIC``, the CRC-32 of every byte before the footer, and that length. Opening
a file checks the footer's magic and length against the file's size (cheap: a torn or
truncated file is caught); ``verify`` recomputes the CRC over the whole file (what
``search check`` does). JSON files (the marker, commit points) carry a ``crc32`` member
computed over their canonical form. A file that fails either check raises
``IndexCorruptError`` naming it.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from searchlib.errors import IndexCorruptError

__all__ = [
    "FOOTER_SIZE",
    "ChecksumWriter",
    "check_footer",
    "crc32_of_file",
    "dump_checked_json",
    "load_checked_json",
    "verify",
]

FOOTER_MAGIC = b"SLCK"
_FOOTER = struct.Struct("<4sIQ")
FOOTER_SIZE = _FOOTER.size


class ChecksumWriter:
    """A binary file being written: counts and checksums what goes through ``write``;
    ``finish`` appends the footer."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._crc = 0
        self._length = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._handle.write(data)
        self._crc = zlib.crc32(data, self._crc)
        self._length += len(data)
        return len(data)

    def tell(self) -> int:
        return self._length

    @property
    def crc(self) -> int:
        return self._crc

    def finish(self) -> int:
        """Write the footer; returns the CRC."""
        self._handle.write(_FOOTER.pack(FOOTER_MAGIC, self._crc, self._length))
        return self._crc


def check_footer(path: Path, data: bytes | memoryview | Any) -> tuple[int, int]:
    """The footer of ``data`` (a file's whole content, or a map of it) as (crc, length
    of the content before it); raises ``IndexCorruptError`` if it is missing or does
    not fit the file's size."""
    size = len(data)
    return _footer(path, bytes(data[max(0, size - FOOTER_SIZE) :]), size)


def _footer(path: Path, tail: bytes, size: int) -> tuple[int, int]:
    """The footer ``tail`` (a file's last bytes) of a file of ``size`` bytes."""
    if size < FOOTER_SIZE:
        raise IndexCorruptError(f"index file {str(path)!r} is truncated ({size} bytes)")
    magic, crc, length = _FOOTER.unpack(tail)
    if magic != FOOTER_MAGIC or length != size - FOOTER_SIZE:
        raise IndexCorruptError(
            f"index file {str(path)!r} has no valid checksum footer (truncated or damaged)"
        )
    return crc, length


def crc32_of_file(path: Path, length: int) -> int:
    crc = 0
    with open(path, "rb") as handle:
        left = length
        while left > 0:
            block = handle.read(min(left, 1 << 20))
            if not block:
                break
            crc = zlib.crc32(block, crc)
            left -= len(block)
    return crc


def verify(path: Path) -> int:
    """Recompute a binary file's CRC and compare it with its footer; returns it."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            handle.seek(max(0, size - FOOTER_SIZE))
            tail = handle.read()
    except FileNotFoundError:
        raise  # merged away meanwhile: the caller verifies the newer commit
    except OSError as exc:
        raise IndexCorruptError(f"index file {str(path)!r} is unreadable: {exc}") from exc
    expected, length = _footer(path, tail, size)
    if crc32_of_file(path, length) != expected:
        raise IndexCorruptError(f"index file {str(path)!r} fails its checksum (damaged)")
    return expected


def _canonical(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def dump_checked_json(body: Any) -> bytes:
    """``body`` as a JSON file's bytes, with its checksum."""
    return json.dumps(
        {"body": body, "crc32": zlib.crc32(_canonical(body))}, ensure_ascii=False, indent=1
    ).encode("utf-8")


def load_checked_json(path: Path, data: bytes) -> Any:
    """The body of a checked JSON file; ``IndexCorruptError`` if it is not one."""
    try:
        wrapper = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IndexCorruptError(f"index file {str(path)!r} is not valid JSON (damaged)") from exc
    if not isinstance(wrapper, dict) or set(wrapper) != {"body", "crc32"}:
        raise IndexCorruptError(f"index file {str(path)!r} is not a searchlib file")
    body = wrapper["body"]
    if wrapper["crc32"] != zlib.crc32(_canonical(body)):
        raise IndexCorruptError(f"index file {str(path)!r} fails its checksum (damaged)")
    return body
