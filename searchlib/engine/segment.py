"""One segment: written once by ``SegmentBuilder``, read by ``SegmentReader``.

A segment is two files named after its id: the postings file (``engine.arrays``:
every scored field's postings with positions, the per-document columns and the id
table) and the doc store (``engine.docstore``: the stored documents as JSON in zstd
blocks). The builder takes documents already analyzed (``EngineDocument``) and keeps
the analysis it is given, never analyzing again; a merge copies stored documents as
their JSON bytes and writes the merged postings itself. Once finished, a segment's
files never change; its deletions live in the commit (``engine.commit``).
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from searchlib.engine import storage
from searchlib.engine.arrayfile import ArrayFileWriter
from searchlib.engine.arrays import COLUMN, label_codes, write_columns
from searchlib.engine.arrays_read import SegmentArrays
from searchlib.engine.checksum import verify
from searchlib.engine.commit import SegmentInfo, new_segment_id, read_deletions
from searchlib.engine.docstore import DOCSTORE_SUFFIX, DocStoreReader, DocStoreWriter
from searchlib.engine.postings import ScoredPostings
from searchlib.engine.schema import (
    DATE_OFFSET,
    EXACT,
    LABEL_COLUMNS,
    LENGTH_FIELD,
    NUMBER_COLUMNS,
    POSTING_FIELDS,
    SCORED_LENGTH,
    SIGNATURE_COLUMN,
    STOP,
    TEXT_FIELDS,
    EngineDocument,
)
from searchlib.engine.signature import SIGNATURE_BYTES
from searchlib.errors import IndexCorruptError

__all__ = ["POSTINGS_SUFFIX", "SegmentBuilder", "SegmentReader", "write_segment"]

POSTINGS_SUFFIX = ".slp"

# Files up to this size have their whole checksum recomputed when a process first
# opens their segment (about 20 ms); larger ones are checked by size and footer, and
# fully by merges and ``search check`` (as Lucene does).
VERIFY_AT_OPEN = 32 << 20

# Writes a merged segment's postings into its postings file.
PostingsSource = Callable[[ArrayFileWriter], None]


class SegmentBuilder:
    """Writes one new segment in ``folder``; ``finish`` returns its ``SegmentInfo``
    (not yet committed), ``abort`` deletes what it wrote."""

    def __init__(
        self, folder: Path, *, train_dictionary: bool = False, expected_docs: int | None = None
    ) -> None:
        """``train_dictionary``: the stored documents share a trained zstd dictionary
        (``engine.docstore``: what a merge, whose segment lasts, asks for), sized for
        ``expected_docs`` documents if given."""
        self.folder = Path(folder)
        self.id = new_segment_id()
        self._store_path = self.folder / f"{self.id}{DOCSTORE_SUFFIX}"
        self._store_temp = self._store_path.with_name(self._store_path.name + ".partial")
        self._store_file = storage.create_data_file(self._store_temp)
        self._store = DocStoreWriter(
            self._store_file, dictionary=train_dictionary, expected_docs=expected_docs
        )
        self._postings = {
            name: ScoredPostings(positional=name not in EXACT.values()) for name in POSTING_FIELDS
        }
        # Compact per-document columns (a merge builds a million-document segment).
        self._numbers: dict[str, array[int]] = {name: array("Q") for name in NUMBER_COLUMNS}
        self._labels: dict[str, list[str | None]] = {name: [] for name in LABEL_COLUMNS}
        self._signatures = bytearray()
        self._ids: list[str] = []

    @property
    def doc_count(self) -> int:
        return len(self._ids)

    def add(self, doc: EngineDocument) -> None:
        """Add one analyzed document."""
        docnum = len(self._ids)
        for name in TEXT_FIELDS:
            analyzed = doc.text[name]
            self._postings[name].add(docnum, analyzed.terms)
            self._postings[EXACT[name]].add(docnum, analyzed.norms)
            if analyzed.stops:
                self._postings[STOP[name]].add(docnum, analyzed.stops)
        self._store.add(doc.stored)
        lengths = {LENGTH_FIELD[name]: doc.text[name].length for name in TEXT_FIELDS}
        published = 0 if doc.published_ts is None else doc.published_ts + DATE_OFFSET
        self._add_row(
            doc.id,
            {**lengths, "published_ts": published},
            {name: doc.stored.get(name) for name in LABEL_COLUMNS},
            doc.signature,
        )

    def copy(
        self, raw: bytes, doc_id: str, numbers: dict[str, int], labels: dict, signature: bytes
    ) -> None:
        """Add a document of another segment: its stored JSON bytes and its columns
        (a merge writes the postings, ``write_postings``)."""
        self._store.add_raw(raw)
        self._add_row(doc_id, numbers, labels, signature)

    def _add_row(
        self, doc_id: str, numbers: dict[str, int], labels: dict, signature: bytes
    ) -> None:
        if signature and len(signature) != SIGNATURE_BYTES:
            raise ValueError(f"a signature has {SIGNATURE_BYTES} bytes, not {len(signature)}")
        self._ids.append(doc_id)
        self._signatures += signature or bytes(SIGNATURE_BYTES)
        for name, values in self._numbers.items():
            values.append(int(numbers.get(name) or 0))
        for name, label_values in self._labels.items():
            label_values.append(labels.get(name) or None)

    def finish(self, postings_source: PostingsSource | None = None) -> SegmentInfo:
        """Write both files durably; ``postings_source`` (a merge's) writes the
        postings in place of the documents' own."""
        try:
            self._store.finish()
            self._store_file.flush()
            os.fsync(self._store_file.fileno())
            self._store_file.close()
            os.replace(self._store_temp, self._store_path)
            count = len(self._ids)
            numbers = {
                name: np.frombuffer(values, dtype=np.uint64)
                if len(values)
                else np.zeros(0, np.uint64)
                for name, values in self._numbers.items()
            }
            labels = {name: label_codes(values, count) for name, values in self._labels.items()}
            arrays = ArrayFileWriter(self.folder / f"{self.id}{POSTINGS_SUFFIX}")
            try:
                write_columns(arrays, self._ids, numbers, labels, LENGTH_FIELD.values())
                arrays.add(f"{COLUMN}{SIGNATURE_COLUMN}", np.frombuffer(self._signatures, np.uint8))
                if postings_source is not None:
                    postings_source(arrays)
                else:
                    for name, postings in self._postings.items():
                        length = SCORED_LENGTH.get(name)
                        postings.write(arrays, name, None if length is None else numbers[length])
            except BaseException:
                arrays.abort()
                raise
            arrays.close()
        except BaseException:
            self.abort()
            raise
        store_size = self._store_path.stat().st_size
        return SegmentInfo(
            id=self.id,
            doc_count=count,
            files={
                self._store_path.name: (store_size, self._store.crc),
                arrays.path.name: (arrays.size, arrays.crc),
            },
        )

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._store_file.close()
        for path in self.folder.glob(f"{self.id}.*"):
            with contextlib.suppress(OSError):
                path.unlink()


def write_segment(folder: Path, documents: Iterable[EngineDocument]) -> SegmentInfo:
    """Write ``documents`` as one complete new segment in ``folder`` (not committed);
    nothing is left behind if it fails. A writer's worker processes call this alone:
    they need no engine of their own."""
    builder = SegmentBuilder(folder)
    try:
        for doc in documents:
            builder.add(doc)
        return builder.finish()
    except BaseException:
        builder.abort()
        raise


class SegmentReader:
    """A committed segment opened for reading: postings and columns memory-mapped,
    stored documents by number. Immutable, so snapshots share it; deletions belong to
    a commit (``deletions``)."""

    def __init__(self, folder: Path, info: SegmentInfo, *, verify_all: bool = False) -> None:
        """Opening checks each file's size and footer against the commit, and
        recomputes the checksum of files up to ``VERIFY_AT_OPEN`` bytes (all of them
        with ``verify_all``: merges, ``search check``); stored documents are also
        checked block by block as they are read (zstd frame checksums)."""
        self.info = info
        self.folder = Path(folder)
        for name, (size, crc) in info.files.items():
            path = self.folder / name
            try:
                found = storage.regular_file_size(path)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise IndexCorruptError(f"index file {str(path)!r} is unreadable: {exc}") from exc
            if found != size:
                raise IndexCorruptError(
                    f"index file {str(path)!r} has {found} bytes, its commit says {size}"
                )
            if verify_all or size <= VERIFY_AT_OPEN:
                _verify_against(path, crc)
        self.arrays = SegmentArrays.load(self.folder / f"{info.id}{POSTINGS_SUFFIX}")
        if verify_all:
            self.arrays.validate(info.doc_count)
            # Checked whole (a merge, `search check`): its pages need not stay resident
            # (a merge of ten sources would hold them all while it copies documents).
            self.arrays.release()
        else:  # each field is checked when first read
            self.arrays.check_columns(info.doc_count)
        self.store = DocStoreReader(self.folder / f"{info.id}{DOCSTORE_SUFFIX}")
        if len(self.store) != info.doc_count:
            raise IndexCorruptError(
                f"index file {str(self.store.path)!r} holds {len(self.store)} documents, "
                f"its commit says {info.doc_count}"
            )

    @property
    def doc_count(self) -> int:
        return self.info.doc_count

    def deletions(self, info: SegmentInfo) -> np.ndarray:
        """Which documents ``info`` (this segment in some commit) marks deleted."""
        return read_deletions(self.folder, info)

    def stored(self, docnum: int) -> dict[str, Any]:
        return self.store.get(docnum)

    def verify(self) -> None:
        """Recompute every file's checksum and check every field's arrays whole
        (``search check``)."""
        for name, (_size, crc) in self.info.files.items():
            _verify_against(self.folder / name, crc)
        self.arrays.validate(self.info.doc_count, blocks=True)


def _verify_against(path: Path, crc: int) -> None:
    """Recompute ``path``'s checksum; it must also be the one its commit recorded."""
    if verify(path) != crc:
        raise IndexCorruptError(f"index file {str(path)!r} differs from its commit (damaged)")
