"""Fast adding of documents to a Whoosh segment, through Whoosh's own codec.

Whoosh's ``add_document`` analyzes every field again, pushes each posting through a
sorting pool (temporary run files, a merge sort) and, when it writes the postings,
looks up every posting's field length in the lossy length column. ``BulkAdder`` writes
each document's stored fields and columns straight to the codec's per-document writer,
collects the postings from the analysis already made (``engine.postings``), and at
commit writes each field's postings at once in W3's format. When the segment holds
only new documents, its scoring arrays and per-document columns are saved beside it
(``engine.arrays``). Postings of segments that Whoosh merges in the same commit still
come through its pool and are merged in order. The segment written is one Whoosh
reads like its own: same files, same postings.
"""

from __future__ import annotations

import heapq
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

from searchlib.analysis import AnalyzedText
from searchlib.engine.arrays import arrays_path, label_codes, write_segment_arrays
from searchlib.engine.postings import FieldPostings, write_postings

__all__ = ["BulkAdder"]


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
        document) are also saved as arrays beside the segment (``engine.arrays``)."""
        self._writer = segment_writer
        self._scored = scored_fields
        self._schema = segment_writer.schema
        self._postings: dict[str, FieldPostings] = {}
        self._numbers: dict[str, list[int | None]] = {name: [] for name in number_columns}
        self._labels: dict[str, list[str | None]] = {name: [] for name in label_columns}
        segment_writer._flush_segment = self._flush_segment

    # -- documents -----------------------------------------------------------------

    def _add_postings(self, name: str, field: Any, docnum: int, value: Any) -> int:
        """Collect one field's postings of a document; returns the field length."""
        postings = self._postings.get(name)
        if postings is None:
            postings = self._postings[name] = FieldPostings()
        format_ = field.format
        if isinstance(value, AnalyzedText) and type(format_) in (Positions, Frequency):
            norm_form = getattr(field.analyzer, "form", "term") == "norm"
            found = value.norms if norm_form else value.terms
            frequencies = list(map(len, found.values()))
            length = sum(frequencies)
            boost = float(format_.field_boost)
            weights = frequencies if boost == 1.0 else [n * boost for n in frequencies]
            if type(format_) is Positions:
                # Most words occur once: their encodings come from a cache, in C.
                lists = list(found.values())
                values = list(map(_SINGLE_POSITIONS.__getitem__, map(_first, lists)))
                if length > len(frequencies):  # some words occur more than once
                    for at, count in enumerate(frequencies):
                        if count > 1:
                            values[at] = _POSITIONS.encode(lists[at])
            else:
                values = list(map(pack_uint, frequencies))
            postings.add(docnum, found, weights, values, length)
            return length if field.scorable else 0
        # Any other field or format: Whoosh's own analysis of the value.
        items = list(field.index(value))
        length = sum(item[1] for item in items) if field.scorable else 0
        postings.add(
            docnum,
            (item[0].decode("utf-8", "surrogateescape") for item in items),
            [item[2] for item in items],
            [item[3] or b"" for item in items],
            length,
        )
        return length

    def add(self, fields: dict[str, Any]) -> None:
        """Add one document; ``fields`` as for Whoosh's ``add_document``."""
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
                    row[name] = stored
        except BaseException:
            perdoc.cancel_doc()
            self._forget(docnum)
            raise
        perdoc.finish_doc()
        for columns in (self._numbers, self._labels):
            for name, values in columns.items():
                values.append(row.get(name))
        writer._added = True
        writer.docnum += 1

    def _forget(self, docnum: int) -> None:
        """Drop the postings a failed document had already added."""
        for postings in self._postings.values():
            postings.drop_document(docnum)

    # -- commit ----------------------------------------------------------------------

    def _flush_segment(self) -> None:
        """Replaces ``SegmentWriter._flush_segment``: write every posting of the segment."""
        writer = self._writer
        writer.perdocwriter.close()
        pooled = iter(writer.pool.iter_postings())
        first = next(pooled, None)
        ours = {name: self._postings[name].sort() for name in sorted(self._postings)}
        self._postings.clear()
        if first is None:
            for name, postings in ours.items():
                write_postings(writer.fieldwriter, name, self._schema[name], postings)
            if self._scored:
                # Every posting of the segment is ours: save the scoring arrays too,
                # once Whoosh has packed the segment's files (else it packs ours).
                arrays = {
                    name: (p.terms, p.starts, p.docs, p.weights)
                    for name, p in ours.items()
                    if name in self._scored
                }
                numbers = {
                    name: np.array([v or 0 for v in values], dtype=np.uint64)
                    for name, values in self._numbers.items()
                }
                labels = {
                    name: label_codes(values, len(values)) for name, values in self._labels.items()
                }
                assemble = writer._assemble_segment

                def assemble_then_save() -> None:
                    assemble()
                    segment_id = writer.get_segment().segment_id()
                    path = arrays_path(writer.storage.folder, segment_id)
                    write_segment_arrays(path, arrays, numbers, labels)

                writer._assemble_segment = assemble_then_save
        else:
            # Postings Whoosh pooled (segments it merges) carry no field length.
            reader = writer.per_document_reader() if writer.codec.length_stats else None
            length = reader.doc_field_length if reader else (lambda docnum, name: 0)

            def theirs():
                for fieldname, term, docnum, weight, value in (first, *pooled):
                    yield (fieldname, term, docnum, weight, value or b"", length(docnum, fieldname))

            mine = chain.from_iterable(p.iter_postings(name) for name, p in ours.items())
            merged = heapq.merge(mine, theirs(), key=lambda p: (p[0], p[1], p[2]))
            self._write_items(writer.fieldwriter, merged)
            if reader is not None:
                reader.close()
        writer.fieldwriter.close()

    def _write_items(self, fieldwriter: Any, items: Any) -> None:
        last_field = last_term = None
        for fieldname, term, docnum, weight, value, length in items:
            if fieldname != last_field:
                if last_term is not None:
                    fieldwriter.finish_term()
                if last_field is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, self._schema[fieldname])
                last_field, last_term = fieldname, None
            if term != last_term:
                if last_term is not None:
                    fieldwriter.finish_term()
                fieldwriter.start_term(term)
                last_term = term
            fieldwriter.add(docnum, weight, value, length)
        if last_term is not None:
            fieldwriter.finish_term()
        if last_field is not None:
            fieldwriter.finish_field()


_POSITIONS = Positions()
_first = itemgetter(0)


class _SinglePositions(dict):
    """Whoosh's encoding of a one-position list, by position, made on first use."""

    def __missing__(self, position: int) -> bytes:
        encoded = self[position] = _POSITIONS.encode([position])
        return encoded


_SINGLE_POSITIONS = _SinglePositions()
