"""The one module that touches Whoosh's private API.

searchlib uses Whoosh for stored fields, the id and label postings, deletions and the
atomic commit (its table of contents), and drives it below its public API in a few
places, all here: segment writers without Whoosh's own lock (ours is held), hooks
into how a segment is flushed and assembled, the stored-fields column read and written
as raw bytes (merges copy documents without unpickling them), a field writer's parts
for writing postings in W3's format at once, and the table of contents. A Whoosh
upgrade is checked against this file (and the equivalence tests).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from hashlib import md5
from typing import Any

from whoosh.codec.whoosh3 import STORED_COLUMN, W3Codec, W3TermInfo
from whoosh.columns import VarBytesColumn
from whoosh.index import clean_files
from whoosh.writing import SegmentWriter

__all__ = [
    "TERM_INFO",
    "FieldWriterParts",
    "add_terms",
    "clean_uncommitted",
    "codec",
    "document_added",
    "field_writer_parts",
    "finish_segment",
    "latest_segments",
    "new_segment_writer",
    "on_assemble",
    "on_flush",
    "raw_stored_reader",
    "temp_folders",
    "write_raw_stored",
]


# The layout of a W3 term's entry in the term index.
TERM_INFO: struct.Struct = W3TermInfo._struct


def codec() -> W3Codec:
    """Whoosh's W3 codec with zlib's fastest level for posting blocks (only the id and
    label postings are Whoosh's); any Whoosh reader reads it."""
    return W3Codec(compression=1)


def new_segment_writer(index: Any, limitmb: int = 64) -> SegmentWriter:
    """A segment writer for ``index`` that does not take Whoosh's lock (the caller
    holds ours, on the same file). Segments are written as separate files, not one
    compound file: Whoosh reads a compound file through an mmap but copies every part
    it opens into memory."""
    return SegmentWriter(index, _lk=False, limitmb=limitmb, codec=codec(), compound=False)


def finish_segment(writer: SegmentWriter) -> Any:
    """Write ``writer``'s segment completely and return it, without committing it."""
    return writer._finalize_segment()


def on_flush(writer: SegmentWriter, flush: Callable[[], None]) -> None:
    """Make ``flush`` write the segment's postings instead of Whoosh's pool."""
    writer._flush_segment = flush


def on_assemble(writer: SegmentWriter, after: Callable[[], None]) -> None:
    """Run ``after`` once Whoosh has put the segment's files together."""
    assemble = writer._assemble_segment

    def assemble_then() -> None:
        assemble()
        after()

    writer._assemble_segment = assemble_then


def document_added(writer: SegmentWriter) -> None:
    """Count a document written straight to ``writer.perdocwriter``."""
    writer._added = True
    writer.docnum += 1


def write_raw_stored(perdoc: Any, docnum: int, raw: bytes) -> None:
    """Store a document's fields as ``raw``, the bytes Whoosh keeps (a pickled dict,
    compressed), as read by ``raw_stored_reader``."""
    VarBytesColumn.Writer.add(perdoc._get_column("_stored")._child, docnum, raw)


def raw_stored_reader(reader: Any) -> Callable[[int], bytes]:
    """A segment reader's stored documents as the raw bytes Whoosh keeps, by number."""
    compressed = reader._perdoc._cached_reader("_stored", STORED_COLUMN)._child
    return partial(VarBytesColumn.Reader.__getitem__, compressed)


def temp_folders(writer: SegmentWriter) -> list[str]:
    """The temporary folders a Whoosh segment writer made (it leaves some behind)."""
    folders = [writer._tempstorage.folder]
    columns = getattr(writer.perdocwriter, "_cols", None)
    if columns is not None:
        folders.append(columns._tempstorage.folder)
    return folders


def latest_segments(index: Any) -> list[Any]:
    """The segments of the latest commit (read from its table of contents)."""
    return list(index._segments())


def clean_uncommitted(storage: Any, index: Any, index_name: str) -> None:
    """Delete the files no commit refers to: segments of failed or cancelled writes,
    older tables of contents. Raises if no commit is readable."""
    toc = index._read_toc()
    clean_files(storage, index_name, toc.generation, toc.segments)


@dataclass(frozen=True)
class FieldWriterParts:
    """What writing a field's postings at once needs of a W3 field writer."""

    block_limit: int
    compression: int
    field_id: int
    postings_file: Any
    term_index: Any


def field_writer_parts(fieldwriter: Any) -> FieldWriterParts:
    """The parts of a W3 field writer (after ``start_field``)."""
    postwriter = fieldwriter._postwriter
    return FieldWriterParts(
        postwriter._blocklimit,
        postwriter._compression,
        fieldwriter._fieldid,
        fieldwriter._postfile,
        fieldwriter._tindex,
    )


_RECORD_HEAD = struct.Struct("!ii").pack  # HashWriter's key and value lengths


def add_terms(tindex: Any, keys: list[bytes], infos: list[bytes]) -> None:
    """``OrderedHashWriter.add`` for a field's terms at once: one write, same file."""
    if not keys:
        return
    if keys[0] <= tindex.lastkey:
        raise ValueError(f"terms must increase: {tindex.lastkey!r}..{keys[0]!r}")
    dbfile = tindex.dbfile
    position = dbfile.tell()
    positions = []
    records = []
    for key, info in zip(keys, infos, strict=True):
        positions.append(position)
        record = _RECORD_HEAD(len(key), len(info)) + key + info
        records.append(record)
        position += len(record)
    dbfile.write(b"".join(records))
    buckets = tindex.buckets
    if tindex.hashtype == 0:  # md5_hash: the digest's last four bytes
        hashes = [
            int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big") for key in keys
        ]
    else:
        hashes = list(map(tindex.hashfn, keys))
    for hashed, position in zip(hashes, positions, strict=True):
        buckets[hashed & 255].append((hashed, position))
    tindex.index.extend(positions)
    tindex.lastkey = keys[-1]
