"""Merging the postings of segments as array operations.

``merge_postings`` writes the merged postings of a field as array operations: every
segment keeps its terms in hash order, so the merge walks all segments through the hash
space a range at a time (bounded memory whatever the segment sizes), renumbers the
documents (dropping deleted ones) and spills each output array to a temporary file that
the postings file then takes in one copy. The packed streams (gaps, frequencies,
positions: ``engine.packed``) are spilled whole and encoded once the merge has seen
every value (their width is chosen from all of them), a chunk at a time. A scored
field's block maxima (``engine.blockmax``) are taken as its postings go by.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchlib.engine import blockmax, storage
from searchlib.engine.arrayfile import ArrayFileWriter
from searchlib.engine.arrays import STREAMS, concat_ranges, encode_docs, lex_order
from searchlib.engine.arrays_read import FieldArrays
from searchlib.engine.blockmax import BlockAccumulator, block_parts
from searchlib.engine.packed import (
    BLOCK,
    StreamEncoder,
    bit_length_counts,
    choose_width,
    data_layout,
    exception_type,
    narrow,
)

__all__ = ["MergeSource", "merge_postings"]

# The output streams of a field's merge, each spilled to a temporary file.
SPILLED = ["hash", "blob", "length", "count", "tfsum", "first", *STREAMS]
# Postings handled per hash range of a merge (bounds its memory: ~40 bytes each).
CHUNK_POSTINGS = 1_000_000
# Values of a stream encoded at a time (a multiple of the codec's block).
ENCODE_CHUNK = 4096 * BLOCK


@dataclass
class MergeSource:
    """One segment's field postings and where its documents go: ``docmap[d]`` is the
    merged document number of document ``d``, or -1 if it was deleted."""

    field: FieldArrays | None
    docmap: np.ndarray


def merge_postings(
    writer: ArrayFileWriter,
    name: str,
    sources: list[MergeSource],
    release: Callable[[], None] | None = None,
    doc_lengths: np.ndarray | None = None,
) -> None:
    """Write field ``name`` of the merged segment: the sources' postings, renumbered;
    ``release`` is called after each hash range (to drop the pages read so far);
    ``doc_lengths`` (each merged document's length in a scored field) adds the field's
    block maxima."""
    present = [(s.field, s.docmap) for s in sources if s.field is not None and len(s.field)]
    positional = any(field.positional for field, _docmap in present)
    total = sum(field.posting_count for field, _docmap in present)
    chunks = max(1, -(-total // CHUNK_POSTINGS))
    bounds = [2**64 * step // chunks for step in range(chunks + 1)]
    with tempfile.TemporaryDirectory(dir=writer.path.parent, suffix=".tmp") as folder:
        spill = _Spill(Path(folder), SPILLED)
        blocks = None if doc_lengths is None else BlockAccumulator(blockmax.BLOCK_POSTINGS)
        for low, high in itertools.pairwise(bounds):
            _merge_range(spill, present, low, high, positional, blocks, doc_lengths)
            if release is not None:
                release()
        spill.close()
        if blocks is not None:
            for part, array in block_parts(*blocks.finish(), blocks.size).items():
                writer.add(f"{name}.{part}", array)
        lengths = spill.read("length", np.dtype(np.int64))
        counts = spill.read("count", np.dtype(np.int64))
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        posts = np.concatenate(([0], np.cumsum(counts)))
        lex = lex_order(spill.read("blob", np.dtype(np.uint8)), offsets)
        spill.add_to(writer, f"{name}.hash", "hash", np.dtype(np.uint64))
        spill.add_to(writer, f"{name}.blob", "blob", np.dtype(np.uint8))
        writer.add(f"{name}.terms", narrow(offsets))
        writer.add(f"{name}.lex", lex)
        writer.add(f"{name}.posts", narrow(posts))
        spill.add_to(writer, f"{name}.first", "first", np.dtype(np.int32))
        spill.encode_to(writer, f"{name}.gaps", "gaps", Path(folder))
        spill.encode_to(writer, f"{name}.tfs", "tfs", Path(folder))
        if positional:
            tf_sums = spill.read("tfsum", np.dtype(np.int64))
            pstart = np.zeros(len(tf_sums) + 1, dtype=np.int64)
            np.cumsum(tf_sums, out=pstart[1:])
            writer.add(f"{name}.pstart", narrow(pstart))
            spill.encode_to(writer, f"{name}.positions", "positions", Path(folder))


def _merge_range(
    spill: _Spill,
    sources: list[tuple[FieldArrays, np.ndarray]],
    low: int,
    high: int,
    positional: bool,
    blocks: BlockAccumulator | None = None,
    doc_lengths: np.ndarray | None = None,
) -> None:
    """Merge the terms whose hashes fall in ``[low, high)``, feeding ``blocks`` (with
    the merged documents' ``doc_lengths``) the merged postings."""
    entry_hashes, entry_bytes, entry_lengths = [], [], []
    post_entries, post_docs, post_tfs, post_pos = [], [], [], []
    entries = 0
    for field, docmap in sources:
        first = int(field.hash.searchsorted(np.uint64(low)))
        last = len(field.hash) if high >= 2**64 else int(field.hash.searchsorted(np.uint64(high)))
        if first == last:
            continue
        # The terms of this range: hashes and bytes.
        byte_low, byte_high = int(field.term_offsets[first]), int(field.term_offsets[last])
        entry_hashes.append(field.hash[first:last])
        entry_bytes.append(field.blob[byte_low:byte_high])
        entry_lengths.append(np.diff(field.term_offsets[first : last + 1].astype(np.int64)))
        # Their postings, renumbered; deleted documents dropped.
        post_low, post_high = int(field.posts[first]), int(field.posts[last])
        per_term: np.ndarray = np.diff(field.posts[first : last + 1].astype(np.int64))
        owner = np.repeat(np.arange(entries, entries + last - first, dtype=np.int64), per_term)
        docs = docmap[field.docs_between(first, last)]
        keep = docs >= 0
        tfs = field.frequencies(post_low, post_high)
        if positional and field.positional:
            # Stored positions are per posting (first whole, then steps): they move
            # with their posting unchanged.
            start = int(field.pstart[first])
            firsts = start + np.concatenate(([0], np.cumsum(tfs)[:-1]))
            post_pos.append(field.stored_positions(firsts[keep], tfs[keep]))
        post_entries.append(owner[keep])
        post_docs.append(docs[keep])
        post_tfs.append(tfs[keep])
        entries += last - first
    if not entries:
        return
    hashes = np.concatenate(entry_hashes)
    blob = np.concatenate(entry_bytes)
    lengths = np.concatenate(entry_lengths).astype(np.int64)
    term_ids = _term_ids(hashes, blob, lengths)
    owners = term_ids[np.concatenate(post_entries)]
    # Stable: sources are in segment order and documents ascend within each.
    order = np.argsort(owners, kind="stable")
    owners = owners[order]
    distinct = int(term_ids.max()) + 1
    counts = np.bincount(owners, minlength=distinct)
    # One representative entry per merged term, dropping terms left with no postings.
    representative = np.full(distinct, -1, dtype=np.int64)
    representative[term_ids[::-1]] = np.arange(len(term_ids) - 1, -1, -1)
    alive = counts > 0
    chosen = representative[alive]
    starts = np.concatenate(([0], np.cumsum(lengths)))
    spill.write("hash", hashes[chosen])
    spill.write("blob", blob[concat_ranges(starts[chosen], lengths[chosen])])
    spill.write("length", lengths[chosen])
    spill.write("count", counts[alive].astype(np.int64))
    # Positions per term (each posting has tf of them), for the terms' offsets.
    tfs = np.concatenate(post_tfs)
    tf_sums = np.bincount(owners, weights=tfs[order].astype(np.float64), minlength=distinct)
    spill.write("tfsum", np.rint(tf_sums[alive]).astype(np.int64))
    term_posts = np.zeros(int(alive.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[alive], out=term_posts[1:])
    merged_docs = np.concatenate(post_docs)[order]
    firsts, gaps = encode_docs(merged_docs, term_posts)
    if blocks is not None and doc_lengths is not None:
        blocks.feed(tfs[order], doc_lengths[merged_docs])
    spill.write("first", firsts)
    spill.write("gaps", gaps)
    spill.write("tfs", tfs[order] - 1)
    if positional:
        positions = np.concatenate(post_pos)
        firsts = np.concatenate(([0], np.cumsum(tfs)[:-1]))
        spill.write("positions", positions[concat_ranges(firsts[order], tfs[order])])


def _term_ids(hashes: np.ndarray, blob: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A merged term number for each entry (a term of one source), in hash order:
    entries with equal bytes share one. Equal hashes are checked byte for byte."""
    order = np.lexsort((np.arange(len(hashes)), hashes))
    sorted_hashes = hashes[order]
    new_group = np.concatenate(([True], sorted_hashes[1:] != sorted_hashes[:-1]))
    group = np.cumsum(new_group) - 1
    starts = np.concatenate(([0], np.cumsum(lengths)))
    # Compare each entry with the first of its hash group.
    leader = order[np.flatnonzero(new_group)][group]
    same_length = lengths[order] == lengths[leader]
    check = np.flatnonzero(same_length)
    mine = concat_ranges(starts[order[check]], lengths[order[check]])
    theirs = concat_ranges(starts[leader[check]], lengths[leader[check]])
    differs = blob[mine] != blob[theirs]
    mismatch = ~same_length
    if differs.any():
        owner = np.repeat(check, lengths[order[check]])
        mismatch[np.unique(owner[differs])] = True
    ids = np.empty(len(hashes), dtype=np.int64)
    if not mismatch.any():
        ids[order] = group
        return ids
    # A 64-bit hash collision between different terms (rare): number by bytes.
    numbered: dict[tuple[int, bytes], int] = {}
    for at in order.tolist():
        key = (int(hashes[at]), blob[starts[at] : starts[at + 1]].tobytes())
        ids[at] = numbered.setdefault(key, len(numbered))
    return ids


class _Spill:
    """Raw arrays appended to temporary files, one per output stream; the packed
    streams as uint32, with the bit lengths of their values counted as they come."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self._paths = {name: folder / name for name in names}
        self._files = {name: storage.create_data_file(path) for name, path in self._paths.items()}
        self._counts = dict.fromkeys(names, 0)
        self._lengths = {name: np.zeros(65, dtype=np.int64) for name in STREAMS}

    def write(self, name: str, array: np.ndarray) -> None:
        if name in self._lengths:
            self._lengths[name] += bit_length_counts(array)
            array = np.asarray(array).astype(np.uint32)
        self._files[name].write(np.ascontiguousarray(array).tobytes())
        self._counts[name] += len(array)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def read(self, name: str, dtype: np.dtype) -> np.ndarray:
        return np.fromfile(self._paths[name], dtype=dtype)

    def add_to(self, writer: ArrayFileWriter, array_name: str, name: str, dtype: np.dtype) -> None:
        writer.add_spilled(array_name, dtype, self._counts[name], self._paths[name])

    def encode_to(self, writer: ArrayFileWriter, array_name: str, name: str, folder: Path) -> None:
        """Packed stream ``name`` into ``writer`` (``engine.packed``), encoded a chunk
        at a time into more temporary files: the values, then their exceptions as a
        stream of their own."""
        exceptions_path = folder / f"{name}.exc"
        found, counts = _encode_file(
            writer,
            array_name,
            self._paths[name],
            np.dtype(np.uint32),
            self._counts[name],
            self._lengths[name],
            folder / f"{name}.data",
            exceptions_path,
        )
        inner_counts = np.zeros(65, dtype=np.int64)
        inner_counts[: len(counts)] = counts
        _encode_file(
            writer,
            f"{array_name}.x",
            exceptions_path,
            exception_type(self._lengths[name]),
            found,
            inner_counts,
            folder / f"{name}.x.data",
            folder / f"{name}.x.exc",
            plain=True,
        )


def _encode_file(
    writer: ArrayFileWriter,
    array_name: str,
    source: Path,
    source_type: np.dtype,
    count: int,
    lengths: np.ndarray,
    data_path: Path,
    exceptions_path: Path,
    *,
    plain: bool = False,
) -> tuple[int, np.ndarray]:
    """The ``count`` values of file ``source`` as a packed stream into ``writer``,
    a chunk at a time: its data, exception counts and header; its exceptions go to
    ``exceptions_path`` (added to ``writer`` as plain ``array_name.x`` when ``plain``,
    else left for the caller to encode). Returns how many exceptions there are and
    their bit-length counts."""
    encoder = StreamEncoder(choose_width(lengths))
    kind = exception_type(lengths)
    before = [np.zeros(1, dtype=np.int64)]
    escaped = np.zeros(65, dtype=np.int64)
    with (
        storage.create_data_file(data_path) as data,
        storage.create_data_file(exceptions_path) as exc,
    ):
        for start in range(0, max(count, 1), ENCODE_CHUNK):
            values = np.fromfile(
                source,
                dtype=source_type,
                count=min(ENCODE_CHUNK, count - start),
                offset=start * source_type.itemsize,
            )
            packed, exceptions, after = encoder.feed(values)
            data.write(packed.tobytes())
            exc.write(exceptions.astype(kind).tobytes())
            escaped += bit_length_counts(exceptions)
            before.append(after)
    data_type, data_count = data_layout(count, encoder.width)
    writer.add_spilled(array_name, data_type, data_count, data_path)
    if plain:
        writer.add_spilled(f"{array_name}.x", kind, encoder.exceptions, exceptions_path)
    writer.add(f"{array_name}.xc", narrow(np.concatenate(before)))
    writer.add(f"{array_name}.n", np.asarray([count, encoder.width], dtype=np.int64))
    return encoder.exceptions, escaped
