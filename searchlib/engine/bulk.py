"""Adding documents to a segment: stored fields through Whoosh, postings to our file.

Whoosh's ``add_document`` analyzes every field again and pushes each posting through a
sorting pool. ``BulkAdder`` writes each document's stored fields and columns straight
to the codec's per-document writer, and collects the postings from the analysis
already made: the scored text fields' postings (with positions) go to the segment's
postings file (``engine.arrays``), the only place they are kept; the id and label
fields' postings are written in Whoosh's W3 format (``engine.postings``), so Whoosh
finds documents by id. A merge (``engine.merge``) copies stored documents with
``copy_document`` and writes the merged postings file itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from whoosh.formats import Frequency, Positions

from searchlib.analysis import AnalyzedText
from searchlib.engine import whoosh_adapter
from searchlib.engine.arrays import SegmentFileWriter, arrays_path, label_codes
from searchlib.engine.postings import ScoredPostings
from searchlib.engine.schema import EngineDocument, whoosh_fields
from searchlib.errors import SearchlibError

__all__ = ["BulkAdder"]

ID_FIELD = "id"

# Writes a merged segment's postings and columns into its postings file.
ArraysSource = Callable[[SegmentFileWriter], None]


class BulkAdder:
    """Adds documents to a ``SegmentWriter`` without its per-document pool."""

    def __init__(
        self,
        segment_writer: Any,
        scored_fields: tuple[str, ...] = (),
        number_columns: tuple[str, ...] = (),
        label_columns: tuple[str, ...] = (),
    ) -> None:
        """``scored_fields``' postings, ``number_columns`` and ``label_columns`` (per
        document) are saved in the segment's postings file (``engine.arrays``)."""
        self._writer = segment_writer
        self._scored = scored_fields
        self._schema = segment_writer.schema
        self._scored_postings = {
            name: ScoredPostings(type(self._schema[name].format) is Positions)
            for name in scored_fields
        }
        self._numbers: dict[str, list[int | None]] = {name: [] for name in number_columns}
        self._labels: dict[str, list[str | None]] = {name: [] for name in label_columns}
        self._ids: list[str | None] = []
        # The values kept per document for the postings file's columns.
        self._row_names = {ID_FIELD, *number_columns, *label_columns}
        # Set by a merge: it writes the postings file's contents itself.
        self.arrays_source: ArraysSource | None = None
        whoosh_adapter.on_flush(segment_writer, self._flush_segment)

    # -- documents -----------------------------------------------------------------

    def _add_postings(self, name: str, field: Any, docnum: int, value: Any) -> int:
        """Collect one scored field's postings of a document; returns its length."""
        scored = self._scored_postings.get(name)
        if scored is None or not isinstance(value, AnalyzedText):
            raise SearchlibError(f"field {name!r} is not a scored text field of this index")
        if type(field.format) not in (Positions, Frequency):
            raise SearchlibError(f"field {name!r} has no frequencies to score")
        norm_form = getattr(field.analyzer, "form", "term") == "norm"
        found = value.norms if norm_form else value.terms
        scored.add(docnum, found)
        return sum(map(len, found.values())) if field.scorable else 0

    def add(self, doc: EngineDocument) -> None:
        """Add one document."""
        fields = whoosh_fields(doc)
        writer = self._writer
        schema = self._schema
        perdoc = writer.perdocwriter
        docnum = writer.docnum
        perdoc.start_doc(docnum)
        row: dict[str, Any] = {}
        try:
            for name in sorted(k for k in fields if not k.startswith("_")):
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = self._add_postings(name, field, docnum, value) if field.indexed else 0
                stored = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, stored if field.stored else None, length)
                column = field.column_type
                if column is not None and stored is not None:
                    perdoc.add_column_value(name, column, field.to_column_value(stored))
                if name in self._row_names:
                    row[name] = stored
        except BaseException:
            perdoc.cancel_doc()
            self._forget(docnum)
            raise
        perdoc.finish_doc()
        self._add_row(row)

    def copy_document(
        self, stored: bytes, keys: dict[str, str | None], numbers: dict[str, int]
    ) -> None:
        """Add a document of another segment: its stored fields as the raw bytes Whoosh
        keeps (``whoosh_adapter.raw_stored_reader``), its id and label values, its
        number columns; no postings (a merge writes those)."""
        writer = self._writer
        schema = self._schema
        perdoc = writer.perdocwriter
        docnum = writer.docnum
        perdoc.start_doc(docnum)
        row: dict[str, Any] = {}
        for name, value in (*keys.items(), *numbers.items()):
            if value is None:
                continue
            field = schema[name]
            column = field.column_type
            if column is not None:
                perdoc.add_column_value(name, column, field.to_column_value(value))
            row[name] = value
        # Whoosh's stored column pickles, then compresses: give it the finished bytes.
        whoosh_adapter.write_raw_stored(perdoc, docnum, stored)
        perdoc.finish_doc()
        self._add_row(row)

    def _add_row(self, row: dict[str, Any]) -> None:
        self._ids.append(row.get(ID_FIELD))
        for columns in (self._numbers, self._labels):
            for name, values in columns.items():
                values.append(row.get(name))
        whoosh_adapter.document_added(self._writer)

    def _forget(self, docnum: int) -> None:
        """Drop the postings a failed document had already added."""
        for scored in self._scored_postings.values():
            scored.drop_document(docnum)

    # -- commit ----------------------------------------------------------------------

    def _flush_segment(self) -> None:
        """Write the segment's postings (in place of Whoosh's flush)."""
        writer = self._writer
        writer.perdocwriter.close()
        if next(iter(writer.pool.iter_postings()), None) is not None:
            # Whoosh merges never run on our writers (engine.merge does the merging).
            raise SearchlibError("a bulk segment writer was given pooled postings")
        writer.fieldwriter.close()  # Whoosh keeps no postings of ours
        numbers = {
            name: np.array([v or 0 for v in values], dtype=np.uint64)
            for name, values in self._numbers.items()
        }
        labels = {name: label_codes(values, len(values)) for name, values in self._labels.items()}

        def save() -> None:
            # After Whoosh has packed the segment's files (else it would pack ours).
            segment_id = writer.get_segment().segment_id()
            arrays = SegmentFileWriter(arrays_path(writer.storage.folder, segment_id))
            try:
                arrays.add_columns([i or "" for i in self._ids], numbers, labels)
                if self.arrays_source is not None:
                    self.arrays_source(arrays)
                else:
                    for name, postings in self._scored_postings.items():
                        postings.write(arrays, name)
            except BaseException:
                arrays.abort()
                raise
            arrays.close()

        whoosh_adapter.on_assemble(writer, save)
