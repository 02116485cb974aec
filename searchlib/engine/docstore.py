"""The stored documents of a segment (``<segment id>.sld``), compressed in blocks.

tantivy's doc store is the model: documents are JSON objects (data, never pickles),
appended to a block until it holds ``BLOCK_BYTES`` of text; each block is compressed
with zstd on its own (with zstd's frame checksum, verified as it is read), so a hit
decodes one block, not the segment, and many short
articles share one compression context (a document compressed alone compresses far
worse). A merged segment's blocks also share a zstd dictionary trained on its first
documents (``TRAIN_DOCS``): what articles have in common (field names, the words of
the news, a source's boilerplate) is then not learnt again in every block, about a
tenth less on news (measured on the shared corpus, trained and compressed on
different articles; kept only if it makes those first documents 3% smaller); a new
segment, written once and soon merged, trains none. The dictionary is as large as
the segment can carry (``DICTIONARY_PER_DOC`` bytes a document, at most
``DICTIONARY_BYTES``): trained on 1,500 articles of the shared corpus and measured on
the other 1,963, 512 KB stores an article in 828 bytes where 96 KB took 863 (4% less;
876 against 957 on a million-article corpus of resampled sentences), decompressed as
fast, at the same level; for the 3,463 articles alone, 64-128 KB is best. With a
dictionary the blocks are smaller (``TRAINED_BLOCK_BYTES``, tantivy's 16 KB): the
dictionary holds most of what a larger block would have shared, so each hit
decompresses a quarter of the text for 2% more bytes (measured on this corpus: 958
against 941 bytes an article, 0.045 against 0.169 ms a block). Readers take blocks of
any size. Layout::

    MAGIC | dictionary length | dictionary | blocks | block offsets | block firsts |
    header | header length | footer

The block index is two ``uint64`` arrays (each block's offset, one more for the end;
each block's first document), mapped, not parsed; the header (JSON) counts documents
and blocks. Each block starts with its documents' offsets into the decompressed block
(``uint32``, one more than documents). The checksum footer (``engine.checksum``)
covers everything before it. Readers memory-map the file and keep a few decoded blocks.
"""

from __future__ import annotations

import json
import mmap
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import zstandard

from searchlib.engine.checksum import FOOTER_SIZE, ChecksumWriter, check_footer
from searchlib.engine.storage import MAX_METADATA_BYTES, regular_file_size
from searchlib.errors import IndexCorruptError

__all__ = ["DOCSTORE_SUFFIX", "DocStoreReader", "DocStoreWriter"]

DOCSTORE_SUFFIX = ".sld"
MAGIC = b"SLD2"
UNTRAINED_MAGIC = b"SLD1"  # no dictionary section (what format 10 first wrote)
BLOCK_BYTES = 64 << 10  # uncompressed text per block (about 30 news articles)
TRAINED_BLOCK_BYTES = 16 << 10  # the same with a trained dictionary (about 7)
LEVEL = 3
CACHED_BLOCKS = 16
# A dictionary is trained on this many first documents (fewer: on all of them, if at
# least MIN_TRAIN_DOCS), of DICTIONARY_BYTES.
TRAIN_DOCS = 4_000
MIN_TRAIN_DOCS = 200
DICTIONARY_BYTES = 512 << 10
# A segment's dictionary costs it at most this much a document (of the ~900 bytes an
# article takes): a small merged segment gets a small one.
DICTIONARY_PER_DOC = 32
KEEP_BELOW = 0.97  # a dictionary is kept if it makes its samples this much smaller


class DocStoreWriter:
    """Appends documents (JSON objects) and compresses them block by block; with
    ``dictionary``, the blocks share one trained on the first documents (kept
    uncompressed until then)."""

    def __init__(
        self, handle: BinaryIO, *, dictionary: bool = False, expected_docs: int | None = None
    ) -> None:
        """``expected_docs``: how many documents the store will hold, if known (a
        merge's), which bounds the dictionary's size."""
        self._out = ChecksumWriter(handle)
        self._dictionary_bytes = DICTIONARY_BYTES
        if expected_docs is not None:
            self._dictionary_bytes = min(DICTIONARY_BYTES, expected_docs * DICTIONARY_PER_DOC)
        self._out.write(MAGIC)
        self._compressor: zstandard.ZstdCompressor | None = None
        # While training, the first documents wait uncompressed in ``_pending``.
        self._training = dictionary
        if not dictionary:
            self._start(None)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._blocks: list[list[int]] = []  # [offset, first document]
        self._block_bytes = BLOCK_BYTES
        self.count = 0
        self.crc = 0

    def _start(self, samples: list[bytes] | None) -> None:
        """Train the dictionary on ``samples`` (none: no dictionary), write it, and
        begin compressing."""
        trained = None
        if samples is not None and len(samples) >= MIN_TRAIN_DOCS:
            try:
                # A dictionary far smaller than its samples (zstd advises ~1/100; up to
                # 1/8 still gained on news).
                size = min(self._dictionary_bytes, sum(map(len, samples)) // 8)
                chosen: list[bytes | bytearray | memoryview] = list(samples)
                trained = zstandard.train_dictionary(size, chosen, level=LEVEL)
            except zstandard.ZstdError:
                trained = None  # too little to learn from: blocks on their own
            if trained is not None and not _helps(trained, samples):
                trained = None
        if trained is not None:
            self._block_bytes = TRAINED_BLOCK_BYTES
        data = b"" if trained is None else trained.as_bytes()
        self._out.write(len(data).to_bytes(4, "little") + data)
        self._compressor = zstandard.ZstdCompressor(
            level=LEVEL, write_checksum=True, dict_data=trained
        )
        self._training = False

    def add(self, document: dict[str, Any]) -> None:
        self.add_raw(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())

    def add_raw(self, encoded: bytes) -> None:
        """A document already encoded as JSON (a merge copies them so)."""
        self._pending.append(encoded)
        self._pending_bytes += len(encoded)
        self.count += 1
        if self._training:
            if len(self._pending) >= TRAIN_DOCS:
                self._train()
        elif self._pending_bytes >= self._block_bytes:
            self._flush()

    def _train(self) -> None:
        """Train the dictionary on the documents held, then add them again, to be
        compressed in blocks with it."""
        self._start(self._pending)
        held, self._pending, self._pending_bytes = self._pending, [], 0
        self.count -= len(held)
        for encoded in held:
            self.add_raw(encoded)

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._compressor is None:
            raise RuntimeError("the doc store's compressor was not started")
        offsets = np.zeros(len(self._pending) + 1, dtype=np.uint32)
        np.cumsum([len(d) for d in self._pending], out=offsets[1:])
        block = offsets.tobytes() + b"".join(self._pending)
        self._blocks.append([self._out.tell(), self.count - len(self._pending)])
        self._out.write(self._compressor.compress(block))
        self._pending = []
        self._pending_bytes = 0

    def finish(self) -> None:
        """Write the last block, the index and the footer."""
        if self._training:
            self._train()
        self._flush()
        end = self._out.tell()
        offsets = np.array([b[0] for b in self._blocks] + [end], dtype=np.uint64)
        firsts = np.array([b[1] for b in self._blocks], dtype=np.uint64)
        self._out.write(offsets.tobytes() + firsts.tobytes())
        header = json.dumps({"count": self.count, "blocks": len(self._blocks)}).encode()
        self._out.write(header + len(header).to_bytes(8, "little"))
        self.crc = self._out.finish()


def _helps(trained: zstandard.ZstdCompressionDict, samples: list[bytes]) -> bool:
    """Whether the samples compress a few percent smaller with the dictionary, each
    cut into the blocks it would be stored in (documents that share little, random
    words say, gain nothing)."""
    plain = zstandard.ZstdCompressor(level=LEVEL)
    with_dictionary = zstandard.ZstdCompressor(level=LEVEL, dict_data=trained)
    before = sum(len(plain.compress(block)) for block in _blocks_of(samples, BLOCK_BYTES))
    after = sum(
        len(with_dictionary.compress(block)) for block in _blocks_of(samples, TRAINED_BLOCK_BYTES)
    )
    return after <= before * KEEP_BELOW


def _blocks_of(samples: list[bytes], block_bytes: int) -> list[bytes]:
    blocks, pending, size = [], [], 0
    for sample in samples:
        pending.append(sample)
        size += len(sample)
        if size >= block_bytes:
            blocks.append(b"".join(pending))
            pending, size = [], 0
    blocks.append(b"".join(pending))
    return blocks


class DocStoreReader:
    """Reads documents by number from a memory-mapped doc store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            regular_file_size(path)  # never open a FIFO or a device in its place
            with open(path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise  # merged away meanwhile: the caller opens the newer commit
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"index file {str(path)!r} is unreadable: {exc}") from exc
        check_footer(path, self._map)
        size = len(self._map) - FOOTER_SIZE
        try:
            if self._map[:4] not in (MAGIC, UNTRAINED_MAGIC) or size < 16:
                raise ValueError("no doc store magic")
            trained = self._map[:4] == MAGIC
            dictionary_size = int.from_bytes(self._map[4:8], "little") if trained else 0
            blocks_start = 8 + dictionary_size if trained else len(UNTRAINED_MAGIC)
            if blocks_start > size:
                raise ValueError("the dictionary runs past the file")
            header_size = int.from_bytes(self._map[size - 8 : size], "little")
            if not 0 < header_size <= min(size - 12, MAX_METADATA_BYTES):
                raise ValueError("index length out of range")
            header = json.loads(self._map[size - 8 - header_size : size - 8])
            self.count = int(header["count"])
            blocks = int(header["blocks"])
            index_start = size - 8 - header_size - 8 * (2 * blocks + 1)
            if blocks < 0 or self.count < 0 or index_start < blocks_start:
                raise ValueError("block index out of range")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise IndexCorruptError(f"index file {str(path)!r} is damaged: {exc}") from exc
        # The block index as arrays over the map: offsets (one more: the end), firsts.
        self._offsets = np.frombuffer(self._map, np.uint64, blocks + 1, index_start)
        # Each hit searches the firsts: copied, as the map's are unaligned (numpy copies
        # an unaligned array on every search: 16 us against 0.8 at 68,000 blocks).
        self._firsts = np.frombuffer(
            self._map, np.uint64, blocks, index_start + 8 * (blocks + 1)
        ).copy()
        if (
            int(self._offsets[-1]) != index_start
            or bool(np.any(self._offsets[1:] < self._offsets[:-1]))
            or bool(np.any(self._firsts[1:] < self._firsts[:-1]))
            or (blocks and (int(self._firsts[0]) != 0 or int(self._offsets[0]) != blocks_start))
            or (blocks and int(self._firsts[-1]) >= max(self.count, 1))
            or (self.count and not blocks)
        ):
            raise IndexCorruptError(f"index file {str(path)!r} has a damaged block index")
        self._dictionary = (
            zstandard.ZstdCompressionDict(bytes(self._map[8:blocks_start]))
            if dictionary_size
            else None
        )
        self._view = memoryview(self._map)
        self._cache: OrderedDict[int, tuple[np.ndarray, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        # A decompressor per thread (zstd's are not safe to share between threads),
        # kept: making one loads the dictionary again.
        self._local = threading.local()

    def __len__(self) -> int:
        return self.count

    def _block(self, number: int) -> tuple[np.ndarray, bytes]:
        with self._lock:
            cached = self._cache.get(number)
            if cached is not None:
                self._cache.move_to_end(number)
                return cached
        start, end = int(self._offsets[number]), int(self._offsets[number + 1])
        first = int(self._firsts[number])
        last = int(self._firsts[number + 1]) if number + 1 < len(self._firsts) else self.count
        try:
            raw = self._decompressor().decompress(self._view[start:end])
            width = 4 * (last - first + 1)
            if len(raw) < width:
                raise ValueError("the block is shorter than its document offsets")
            # Offsets from the start of the decompressed block (no copy of its text).
            offsets = np.frombuffer(raw, np.uint32, last - first + 1).astype(np.int64) + width
            if int(offsets[-1]) != len(raw) or int(offsets[0]) != width:
                raise ValueError("document offsets do not fit the block")
        except (zstandard.ZstdError, ValueError) as exc:
            raise IndexCorruptError(
                f"index file {str(self.path)!r} has a damaged block {number}: {exc}"
            ) from exc
        decoded = (offsets, raw)
        with self._lock:
            self._cache[number] = decoded
            while len(self._cache) > CACHED_BLOCKS:
                self._cache.popitem(last=False)
        return decoded

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        found = getattr(self._local, "decompressor", None)
        if found is None:
            found = zstandard.ZstdDecompressor(dict_data=self._dictionary)
            self._local.decompressor = found
        return found

    def raw(self, docnum: int) -> bytes:
        """Document ``docnum`` as its JSON bytes."""
        if not 0 <= docnum < self.count:
            raise IndexError(f"document {docnum} is not in {str(self.path)!r}")
        number = int(np.searchsorted(self._firsts, np.uint64(docnum), side="right")) - 1
        offsets, text = self._block(number)
        local = docnum - int(self._firsts[number])
        return text[int(offsets[local]) : int(offsets[local + 1])]

    def get(self, docnum: int) -> dict[str, Any]:
        raw = self.raw(docnum)
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise IndexCorruptError(
                f"index file {str(self.path)!r}: document {docnum} is damaged"
            ) from exc
        if not isinstance(document, dict):
            raise IndexCorruptError(f"index file {str(self.path)!r}: document {docnum} is damaged")
        return document

    def release(self) -> None:
        """Drop the pages of the file this process has read from its resident memory
        (they stay in the page cache): a merge reads every block once."""
        with self._lock:
            self._cache.clear()
        if hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
