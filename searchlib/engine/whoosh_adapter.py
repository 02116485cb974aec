"""The one module that touches Whoosh's private API.

searchlib uses Whoosh for stored fields, deletions and the atomic commit (its table
of contents), and drives it below its public API in a few
places, all here: segment writers without Whoosh's own lock (ours is held), hooks
into how a segment is flushed and assembled, the stored-fields column read and written
as raw bytes (merges copy documents without unpickling them), and the table of
contents. A Whoosh
upgrade is checked against this file (and the equivalence tests).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from whoosh.codec.whoosh3 import STORED_COLUMN, W3Codec
from whoosh.columns import VarBytesColumn
from whoosh.index import clean_files
from whoosh.writing import SegmentWriter

__all__ = [
    "clean_uncommitted",
    "codec",
    "document_added",
    "finish_segment",
    "latest_segments",
    "new_segment_writer",
    "on_assemble",
    "on_flush",
    "raw_stored_reader",
    "temp_folders",
    "write_raw_stored",
]


def codec() -> W3Codec:
    """Whoosh's W3 codec (it writes no postings of ours; zlib's fastest level for any
    Whoosh's own writer makes); any Whoosh reader reads it."""
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
