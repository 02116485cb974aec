"""Fast adding of documents to a Whoosh segment, through Whoosh's own codec.

Whoosh's ``add_document`` analyzes every field again, pushes each posting through a
sorting pool (temporary run files, a merge sort) and, when it writes the postings,
looks up every posting's field length in the lossy length column. ``BulkAdder`` writes
each document's stored fields and columns straight to the codec's per-document writer,
collects the postings of the batch in memory from the tokens the analyzer already made,
and at commit writes them term by term with the codec's field writer. Postings of
segments that Whoosh merges in the same commit still come through its pool and are
merged in order. The segment written is the one Whoosh would write: same files, same
postings, readable by any Whoosh reader.
"""

from __future__ import annotations

import heapq
from array import array
from collections import defaultdict
from typing import Any

from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint, pack_ushort

from searchlib.analysis import AnalyzedText
from searchlib.engine.arrays import arrays_path, write_segment_arrays

__all__ = ["BulkAdder"]


class BulkAdder:
    """Adds documents to a ``SegmentWriter`` without its per-document pool."""

    def __init__(self, segment_writer: Any, scored_fields: tuple[str, ...] = ()) -> None:
        self._writer = segment_writer
        self._scored = scored_fields
        self._schema = segment_writer.schema
        # field -> term bytes -> [(docnum, weight, encoded value, length), ...]
        self._postings: dict[str, dict[bytes, list[list]]] = defaultdict(dict)
        segment_writer._flush_segment = self._flush_segment

    # -- documents -----------------------------------------------------------------

    def _text_items(self, field: Any, value: AnalyzedText) -> list[tuple[bytes, int, float, bytes]]:
        found = value.norms if getattr(field.analyzer, "form", "term") == "norm" else value.terms
        format_ = field.format
        boost = float(format_.field_boost)
        if type(format_) is Positions:
            encode = format_.encode
            return [
                (text.encode("utf-8"), len(p), len(p) * boost, _encode_positions(encode, p))
                for text, p in found.items()
            ]
        if type(format_) is Frequency:
            return [
                (text.encode("utf-8"), len(p), len(p) * boost, pack_uint(len(p)))
                for text, p in found.items()
            ]
        return list(field.index(value))  # any other format: Whoosh's own way

    def add(self, fields: dict[str, Any]) -> None:
        """Add one document; ``fields`` as for Whoosh's ``add_document``."""
        writer = self._writer
        schema = self._schema
        perdoc = writer.perdocwriter
        docnum = writer.docnum
        perdoc.start_doc(docnum)
        try:
            for name in sorted(k for k in fields if not k.startswith("_")):
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    if isinstance(value, AnalyzedText):
                        items = self._text_items(field, value)
                    else:
                        items = list(field.index(value))
                    if field.scorable:
                        length = sum(item[1] for item in items)
                    terms = self._postings[name]
                    for term, _frequency, weight, encoded in items:
                        posting = terms.get(term)
                        if posting is None:
                            terms[term] = [(docnum, weight, encoded, length)]
                        else:
                            posting.append((docnum, weight, encoded, length))
                stored = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, stored if field.stored else None, length)
                column = field.column_type
                if column is not None and stored is not None:
                    perdoc.add_column_value(name, column, field.to_column_value(stored))
        except BaseException:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        writer._added = True
        writer.docnum += 1

    # -- commit ----------------------------------------------------------------------

    def _ours(self):
        for name in sorted(self._postings):
            terms = self._postings[name]
            for term in sorted(terms):
                for docnum, weight, value, length in terms[term]:
                    yield name, term, docnum, weight, value, length

    def _flush_segment(self) -> None:
        """Replaces ``SegmentWriter._flush_segment``: write every posting of the segment."""
        writer = self._writer
        writer.perdocwriter.close()
        reader = writer.per_document_reader() if writer.codec.length_stats else None
        pooled = iter(writer.pool.iter_postings())
        first = next(pooled, None)
        if first is None:
            self._write_ours(writer.fieldwriter)
            if self._scored:
                # Every posting of the segment is ours: save the scoring arrays too,
                # once Whoosh has packed the segment's files (else it packs ours).
                arrays = {
                    name: {
                        term: tuple(zip(*p, strict=True))[:2]
                        for term, p in self._postings[name].items()
                    }
                    for name in self._scored
                    if name in self._postings
                }
                assemble = writer._assemble_segment

                def assemble_then_save() -> None:
                    assemble()
                    segment_id = writer.get_segment().segment_id()
                    write_segment_arrays(arrays_path(writer.storage.folder, segment_id), arrays)

                writer._assemble_segment = assemble_then_save
        else:
            length = reader.doc_field_length if reader else (lambda docnum, name: 0)

            def theirs():
                for fieldname, term, docnum, weight, value in (first, *pooled):
                    yield (fieldname, term, docnum, weight, value or b"", length(docnum, fieldname))

            merged = heapq.merge(self._ours(), theirs(), key=lambda p: (p[0], p[1], p[2]))
            self._write_items(writer.fieldwriter, merged)
        writer.fieldwriter.close()
        if reader is not None:
            reader.close()
        self._postings.clear()

    def _write_ours(self, fieldwriter: Any) -> None:
        schema = self._schema
        for name in sorted(self._postings):
            terms = self._postings[name]
            fieldwriter.start_field(name, schema[name])
            for term in sorted(terms):
                _write_term(fieldwriter, term, *zip(*terms[term], strict=True))
            fieldwriter.finish_field()

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


# Posting lists this short are stored inline in the term dictionary (a format Whoosh's
# reader supports; its own writer never uses it) instead of in a block of their own.
INLINE_LIMIT = 4


def _write_term(
    fieldwriter: Any,
    term: bytes,
    docnums: list[int],
    weights: list[float],
    values: list[bytes],
    lengths: list[int],
) -> None:
    """Write one posting list exactly as W3's writer would, a block at a time."""
    postwriter = fieldwriter._postwriter
    if len(docnums) <= INLINE_LIMIT:
        info = W3TermInfo()
        info._weight = float(sum(weights))
        info._df = len(docnums)
        info._minlength = min(lengths)
        info._maxlength = max(lengths)
        info._maxweight = max(weights)
        info._minid = docnums[0]
        info._maxid = docnums[-1]
        info.set_inlined(docnums, weights, values)
    else:
        postwriter.start_postings(fieldwriter._format, W3TermInfo())
        limit = postwriter._blocklimit
        for start in range(0, len(docnums), limit):
            end = start + limit
            postwriter._ids = array("I", docnums[start:end])
            block_weights = weights[start:end]
            block_lengths = lengths[start:end]
            postwriter._weights = array("f", block_weights)
            postwriter._values = [v for v in values[start:end] if v]
            postwriter._maxweight = max(0, max(block_weights))
            positive = [n for n in block_lengths if n]
            postwriter._minlength = min(positive) if positive else None
            postwriter._maxlength = max(0, max(block_lengths))
            if end < len(docnums):
                postwriter._write_block()
        info = postwriter.finish_postings()
    key = pack_ushort(fieldwriter._fieldid) + term
    fieldwriter._tindex.add(key, info.to_bytes())


_SINGLE_POSITIONS: dict[int, bytes] = {}


def _encode_positions(encode: Any, positions: list[int]) -> bytes:
    """Whoosh's position encoding, remembered for the common one-position case."""
    if len(positions) != 1:
        return encode(positions)
    encoded = _SINGLE_POSITIONS.get(positions[0])
    if encoded is None:
        encoded = _SINGLE_POSITIONS[positions[0]] = encode(positions)
    return encoded
