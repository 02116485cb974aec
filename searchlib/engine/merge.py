"""Segment merges: which segments to merge (a log-structured policy) and the merge.

Every commit adds segments; left alone, a query would look each term up in hundreds of
them. ``select_merges`` follows Lucene's ``LogMergePolicy``: a segment's level is the
logarithm of its live size in base ``factor``; whenever ``factor`` adjacent segments
share a level they are merged into one, and a segment that has lost a third of its
documents to deletions is rewritten. Each document is so copied O(log n) times over
the life of an index.

``run_merges`` runs the policy now, under the writer lock (an optimize, or a commit
with background merges off; ``engine.scheduler`` runs it otherwise): a merged segment gets
the live documents' stored JSON bytes (copied, not decoded), their columns, and
postings merged as arrays (``postings_merge``); it takes the place of its first
source, so document order is kept, and each round of merges is one commit.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from searchlib.engine.arrayfile import ArrayFileWriter
from searchlib.engine.arrays_read import SegmentArrays
from searchlib.engine.commit import CommitPoint, SegmentInfo
from searchlib.engine.memory import release_free_memory
from searchlib.engine.postings_merge import MergeSource, merge_postings
from searchlib.engine.schema import LABEL_COLUMNS, NUMBER_COLUMNS, POSTING_FIELDS, SCORED_LENGTH
from searchlib.engine.segment import SegmentBuilder, SegmentReader
from searchlib.errors import SearchlibError

if TYPE_CHECKING:
    from searchlib.engine import Engine

__all__ = ["MergePolicy", "run_merges", "select_merges"]

# Stored documents copied between drops of the pages read (about 30 MB of text).
RELEASE_EVERY = 15_000
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
        current = engine.latest_commit()
        segments = list(current.segments)
        sizes = [(segment.live_count, segment.doc_count) for segment in segments]
        if optimize:
            needed = len(segments) > 1 or any(live < total for live, total in sizes)
            groups = [list(range(len(segments)))] if needed else []
        else:
            groups = select_merges(sizes, policy)
        if not groups:
            break
        merged: dict[int, SegmentInfo | None] = {}
        dropped = {n for group in groups for n in group[1:]}
        try:
            for group in groups:
                merged[group[0]] = _merge_group(engine, [segments[n] for n in group])
            out: list[SegmentInfo] = []
            for number, segment in enumerate(segments):
                if number in merged:
                    replacement = merged[number]
                    if replacement is not None:
                        out.append(replacement)
                elif number not in dropped:
                    out.append(segment)
            engine.publish(CommitPoint(current.generation + 1, tuple(out), current.extra))
        except BaseException:
            with contextlib.suppress(OSError, SearchlibError):
                engine.remove_unreferenced()
            raise
        done += len(groups)
        if optimize:
            break
    if done:
        engine.forget_snapshot()
    return done


def _merge_group(
    engine: Engine, segments: list[SegmentInfo], folder: Path | None = None
) -> SegmentInfo | None:
    """Write one segment (in ``folder``, default the index's) holding the live documents
    of ``segments``; None if they have none."""
    merged = merge_segments(engine.path, segments, folder or engine.path)
    return None if merged is None else merged[0]


def merge_segments(
    index_folder: Path, segments: list[SegmentInfo], folder: Path
) -> tuple[SegmentInfo, list[np.ndarray]] | None:
    """Write one segment in ``folder`` holding the live documents of ``segments`` (as
    committed in ``index_folder``); returns it with each source's document map (its
    number in the merged segment, -1 if deleted), or None if nothing is live."""
    sources = []
    base = 0
    for info in segments:
        reader = SegmentReader(index_folder, info, verify_all=True)
        live = ~reader.deletions(info)
        docmap = np.where(live, np.cumsum(live) - 1 + base, -1)
        base += int(live.sum())
        sources.append((reader, live, docmap))
    if not base:
        return None
    builder = SegmentBuilder(folder, train_dictionary=True, expected_docs=base)
    # Each merged document's lengths, in merged order (the scored fields' block maxima).
    merged_lengths: dict[str, list[np.ndarray]] = {name: [] for name in set(SCORED_LENGTH.values())}
    for reader, live, _docmap in sources:
        arrays = reader.arrays
        count = len(live)
        numbers = {name: _column(arrays, name, count) for name in NUMBER_COLUMNS}
        for name, parts in merged_lengths.items():
            parts.append(numbers[name][live])
        ids, labels = _keys(arrays, count)
        signatures = arrays.signatures()
        for copied, docnum in enumerate(np.flatnonzero(live).tolist(), start=1):
            builder.copy(
                reader.store.raw(docnum),
                ids[docnum],
                {name: int(column[docnum]) for name, column in numbers.items()},
                {name: values[docnum] for name, values in labels.items()},
                signatures[docnum].tobytes(),
            )
            if not copied % RELEASE_EVERY:
                reader.store.release()  # documents are read once: keep few pages resident
        reader.store.release()

    def release() -> None:
        for reader, _live, _docmap in sources:
            reader.arrays.release()
        release_free_memory()  # a hash range's arrays, freed: not kept by the heap

    lengths = {name: np.concatenate(parts) for name, parts in merged_lengths.items()}

    def postings(file: ArrayFileWriter) -> None:
        for name in POSTING_FIELDS:
            length = SCORED_LENGTH.get(name)
            merge_postings(
                file,
                name,
                [MergeSource(r.arrays.field(name), docmap) for r, _l, docmap in sources],
                release,
                None if length is None else lengths[length],
            )

    return builder.finish(postings), [docmap for _r, _l, docmap in sources]


def _keys(arrays: SegmentArrays, count: int) -> tuple[list[str], dict[str, list[str | None]]]:
    """A segment's id and labels per document, from its columns."""
    ids = arrays.ids()
    if ids is None or len(ids) != count:
        raise SearchlibError(f"the ids of a segment are unreadable ({count} documents)")
    labels: dict[str, list[str | None]] = {}
    for name in LABEL_COLUMNS:
        found = arrays.labels(name)
        if found is None or len(found[0]) != count:
            raise SearchlibError(f"the {name} column of a segment is unreadable")
        codes, strings = found
        labels[name] = [strings[c] if c >= 0 else None for c in codes.tolist()]
    return ids, labels


def _column(arrays: SegmentArrays, name: str, count: int) -> np.ndarray:
    """A number column of a segment."""
    saved = arrays.column(name)
    if saved is None or len(saved) != count:
        raise SearchlibError(f"the {name} column of a segment is unreadable")
    return saved
