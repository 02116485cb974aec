"""The arrays file: named numpy arrays in one checksummed, memory-mappable file.

Layout: ``MAGIC``, the arrays (8-byte aligned), a JSON table naming each array's type,
length and offset, the table's length, ``MAGIC`` again, and the checksum footer
(``engine.checksum``). The table at the end lets a writer stream arrays of unknown
size. ``read_arrays`` checks the table against the file (known types, every array
inside it) before any array is made from it. Postings files (``engine.arrays``) and
the stem file (``engine.stems``) are arrays files.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
from pathlib import Path
from typing import BinaryIO

import numpy as np

from searchlib.engine import storage
from searchlib.engine.checksum import FOOTER_SIZE, ChecksumWriter, check_footer

__all__ = ["MAGIC", "ArrayFileWriter", "map_file", "read_arrays"]

MAGIC = b"SLP3"
# The array types a file may hold (a table naming another is damaged).
_DTYPES = frozenset(np.dtype(t).str for t in ("u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f8"))


class ArrayFileWriter:
    """Writes a postings file array by array; ``close`` adds the footer and publishes
    it durably under its final name (until then it is ``<name>.partial``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._temp = path.with_name(path.name + ".partial")
        self._file: BinaryIO = storage.create_data_file(self._temp)
        self._handle = ChecksumWriter(self._file)
        self._handle.write(MAGIC + b"\0" * 4)
        self._entries: dict[str, dict] = {}

    def _pad(self) -> None:
        self._handle.write(b"\0" * (-self._handle.tell() % 8))

    def add(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        self._entries[name] = {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "offset": self._handle.tell(),
        }
        self._handle.write(array.tobytes())
        self._pad()

    def add_spilled(self, name: str, dtype: np.dtype, count: int, source: Path) -> None:
        """An array whose ``count`` items of ``dtype`` were written raw to ``source``."""
        self._entries[name] = {
            "dtype": np.dtype(dtype).str,
            "shape": [count],
            "offset": self._handle.tell(),
        }
        with open(source, "rb") as spilled:
            shutil.copyfileobj(spilled, self._handle, 1 << 22)
        self._pad()

    def close(self) -> None:
        footer = json.dumps(self._entries).encode()
        handle = self._handle
        handle.write(footer + len(footer).to_bytes(8, "little") + MAGIC)
        self.crc = handle.finish()
        self.size = handle.tell() + FOOTER_SIZE
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self.path)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


def map_file(path: Path) -> mmap.mmap:
    storage.regular_file_size(path)  # never open a FIFO or a device in its place
    with open(path, "rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def read_arrays(path: Path, mapped: mmap.mmap) -> dict[str, np.ndarray]:
    _crc, size = check_footer(path, mapped)
    if size < 20 or mapped[:4] != MAGIC or mapped[size - 4 : size] != MAGIC:
        raise ValueError("not a searchlib postings file")
    table_size = int.from_bytes(mapped[size - 12 : size - 4], "little")
    if not 0 < table_size <= min(size - 20, storage.MAX_METADATA_BYTES):
        raise ValueError("array table length out of range")
    table_start = size - 12 - table_size
    entries = json.loads(mapped[table_start : size - 12])
    if not isinstance(entries, dict):
        raise ValueError("array table is not an object")
    arrays = {}
    for name, entry in entries.items():
        dtype = np.dtype(entry["dtype"]) if entry["dtype"] in _DTYPES else None
        shape = entry["shape"]
        if dtype is None or not isinstance(shape, list) or len(shape) != 1:
            raise ValueError(f"array {name!r} has an unknown type or shape")
        count, offset = int(shape[0]), int(entry["offset"])
        if count < 0 or offset < 8 or offset + count * dtype.itemsize > table_start:
            raise ValueError(f"array {name!r} lies outside the file")
        # Plain arrays over the map (np.memmap's Python-level indexing is slow).
        arrays[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)
    return arrays
