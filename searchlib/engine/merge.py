"""Segment merges: which segments to merge (a log-structured policy) and the merge.

Every commit adds segments; left alone, a query would look each term up in hundreds of
them. ``select_merges`` follows Lucene's ``LogMergePolicy``: a segment's level is the
logarithm of its live size in base ``factor``; whenever ``factor`` adjacent segments
share a level they are merged into one, and a segment that has lost a third of its
documents to deletions is rewritten. Each document is so copied O(log n) times over
the life of an index.

``run_merges`` runs the policy after a commit, under the writer lock: a merged segment gets
the live documents' stored bytes as Whoosh keeps them (no unpickling), their ids and
labels, and postings merged as arrays (``postings_merge``); it takes the place of its
first source, so document order is kept, and each round of merges is one commit.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from whoosh.reading import SegmentReader

from searchlib.engine import whoosh_adapter
from searchlib.engine.arrays import SegmentArrays, SegmentFileWriter, arrays_path
from searchlib.engine.bulk import BulkAdder
from searchlib.engine.postings_merge import MergeSource, merge_postings
from searchlib.engine.schema import LABEL_COLUMNS, NUMBER_COLUMNS
from searchlib.engine.snapshot import SCORED_FIELDS, whoosh_arrays
from searchlib.engine.storage import remove_segment_files, remove_temp_folders
from searchlib.errors import SearchlibError

if TYPE_CHECKING:
    from searchlib.engine import Engine

__all__ = ["MergePolicy", "run_merges", "select_merges"]

# Merge rounds after one commit at most (a merge can complete a level above it).
MAX_MERGE_ROUNDS = 8


@dataclass(frozen=True)
class MergePolicy:
    """``factor`` segments of one level merge into one; segments smaller than
    ``floor`` live documents all count as the lowest level; a segment with more than
    ``max_deleted`` of its documents deleted is rewritten on its own; no merge makes a
    segment of more than ``max_merged_docs`` live documents (as Lucene's maximum merged
    segment size: a merge's memory and time stay bounded however large the index)."""

    factor: int = 10
    floor: int = 5_000
    max_deleted: float = 1 / 3
    max_merged_docs: int = 1_000_000

    def __post_init__(self) -> None:
        if self.factor < 2:
            raise ValueError(f"merge factor must be at least 2, not {self.factor!r}")
        if self.max_merged_docs < 1:
            raise ValueError(f"max_merged_docs must be positive, not {self.max_merged_docs!r}")


def select_merges(
    sizes: Sequence[tuple[int, int]], policy: MergePolicy = MergePolicy()
) -> list[list[int]]:
    """Which segments to merge, as lists of adjacent segment numbers, given each
    segment's ``(live documents, all documents)`` in index order."""
    base = math.log(policy.factor)
    levels = [math.log(max(live, policy.floor)) / base for live, _all in sizes]
    merges: list[list[int]] = []
    start = 0
    count = len(sizes)
    while start < count:
        # The group: from `start` to the last segment near the highest level left.
        top = max(levels[start:])
        bottom = top - 0.75
        upto = max(i for i in range(start, count) if levels[i] >= bottom)
        at = start
        while at + policy.factor <= upto + 1:
            group = list(range(at, at + policy.factor))
            if sum(sizes[n][0] for n in group) <= policy.max_merged_docs:
                merges.append(group)
            at += policy.factor
        start = upto + 1
    merged = {number for group in merges for number in group}
    for number, (live, total) in enumerate(sizes):
        if number not in merged and total and (total - live) > policy.max_deleted * total:
            merges.append([number])
    return merges


def run_merges(engine: Engine, *, optimize: bool = False, policy: MergePolicy | None = None) -> int:
    """Merge segments as the policy asks (or all of them into one, and away every
    deleted document, with ``optimize``); each round of merges is one commit.
    Returns how many merges ran. Call with the writer lock held."""
    policy = policy or engine.merge_policy
    done = 0
    for _round in range(MAX_MERGE_ROUNDS):
        current = whoosh_adapter.latest_segments(engine.whoosh_index())
        sizes = [(segment.doc_count(), segment.doc_count_all()) for segment in current]
        if optimize:
            needed = len(current) > 1 or any(live < total for live, total in sizes)
            groups = [list(range(len(current)))] if needed else []
        else:
            groups = select_merges(sizes, policy)
        if not groups:
            break
        merged: dict[int, Any] = {}
        dropped = {n for group in groups for n in group[1:]}
        writer = None
        try:
            for group in groups:
                merged[group[0]] = _merge_group(engine, [current[n] for n in group])
            writer = engine.segment_writer()
            writer.commit(mergetype=partial(_replace_groups, merged=merged, dropped=dropped))
        except BaseException:
            if writer is not None and not writer.is_closed:
                writer.cancel()
            with contextlib.suppress(OSError):
                engine.remove_uncommitted()
            raise
        done += len(groups)
        if optimize:
            break
    if done:
        engine.forget_snapshot()
    return done


def _merge_group(engine: Engine, segments: list[Any]) -> Any | None:
    """Write one segment holding the live documents of ``segments``; None if they
    have none."""

    readers = [SegmentReader(engine.storage, engine.whoosh_index().schema, s) for s in segments]
    try:
        sources = []
        base = 0
        for segment, reader in zip(segments, readers, strict=True):
            live = np.ones(segment.doc_count_all(), dtype=bool)
            if segment.has_deletions():
                live[np.fromiter(segment.deleted_docs(), np.int64)] = False
            docmap = np.where(live, np.cumsum(live) - 1 + base, -1)
            base += int(live.sum())
            saved = SegmentArrays.load(arrays_path(engine.path, segment.segment_id()))
            arrays = saved or whoosh_arrays(reader, SCORED_FIELDS)
            sources.append((reader, live, docmap, arrays))
        if not base:
            return None
        writer = engine.segment_writer()
        adder = BulkAdder(writer, SCORED_FIELDS, NUMBER_COLUMNS, LABEL_COLUMNS)
        try:
            for reader, live, _docmap, arrays in sources:
                count = len(live)
                numbers = {name: _column(arrays, reader, name, count) for name in NUMBER_COLUMNS}
                keys = _keys(arrays, count)
                raw = whoosh_adapter.raw_stored_reader(reader)
                for docnum in np.flatnonzero(live).tolist():
                    adder.copy_document(
                        raw(docnum),
                        {name: values[docnum] for name, values in keys.items()},
                        {name: int(column[docnum]) for name, column in numbers.items()},
                    )

            def release() -> None:
                for _reader, _live, _docmap, arrays in sources:
                    arrays.release()

            def postings(file: SegmentFileWriter) -> None:
                for name in SCORED_FIELDS:
                    merge_postings(
                        file,
                        name,
                        [MergeSource(a.fields.get(name), docmap) for _r, _l, docmap, a in sources],
                        release,
                    )

            adder.arrays_source = postings
            segment = whoosh_adapter.finish_segment(writer)
        except BaseException:
            writer.cancel()
            remove_segment_files(engine.path, writer.newsegment)
            raise
        remove_temp_folders(whoosh_adapter.temp_folders(writer))
        return segment
    finally:
        for reader in readers:
            reader.close()


def _replace_groups(
    writer: Any, segments: list[Any], *, merged: dict[int, Any], dropped: set[int]
) -> list[Any]:
    """A merge policy for Whoosh's commit: each merged segment takes its first source's
    place (document order is kept), its other sources go."""
    out = []
    for number, segment in enumerate(segments):
        if number in merged:
            if merged[number] is not None:
                out.append(merged[number])
        elif number not in dropped:
            out.append(segment)
    return out


def _keys(arrays: SegmentArrays, count: int) -> dict[str, list[str | None]]:
    """A segment's id and labels per document, from its columns."""
    ids = arrays.ids()
    if ids is None or len(ids) != count:
        raise SearchlibError(f"the ids of a segment are unreadable ({count} documents)")
    keys: dict[str, list[str | None]] = {"id": list(ids)}
    for name in LABEL_COLUMNS:
        found = arrays.labels(name)
        if found is None or len(found[0]) != count:
            raise SearchlibError(f"the {name} column of a segment is unreadable")
        codes, strings = found
        keys[name] = [strings[c] if c >= 0 else None for c in codes.tolist()]
    return keys


def _column(arrays: SegmentArrays, reader: Any, name: str, count: int) -> np.ndarray:
    """A number column of a segment: saved with its postings, else Whoosh's."""
    saved = arrays.column(name)
    if saved is not None and len(saved) == count:
        return saved
    return np.fromiter(reader.column_reader(name), np.uint64, count)
