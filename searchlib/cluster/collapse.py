"""Collapsing syndicated copies over a cluster's shards, on the client.

Each shard ranks a collapsed search's window of candidates and sends each key's
signature, source and date (``ShardRanking.copies``); the client merges the keys in
result order and groups the merged window as one index would (``query.collapse``),
ranking a larger window when the page needs more groups than it holds.
"""

from __future__ import annotations

import numpy as np

from searchlib.dates import from_timestamp
from searchlib.engine.signature import SIGNATURE_BYTES, similarity
from searchlib.query.collapse import MAX_COLLAPSE_WINDOW, Duplicate, group_copies
from searchlib.query.shard import ShardRanking

__all__ = ["EMPTY_COPY", "Key", "collapsed_page", "merged_keys", "too_few_groups"]

# A key whose shard sent no signatures (an unsigned article: never collapsed).
EMPTY_COPY: tuple[bytes, str | None, int | None] = (bytes(SIGNATURE_BYTES), None, None)
# (coordination or date, score, shard, rank in the shard, id)
Key = tuple[float, float, int, int, str]


def merged_keys(pages: dict[int, ShardRanking]) -> list[Key]:
    """Every shard's keys in result order (coordination or date, score, shard, rank)."""
    keys = [
        (p, s, shard, i, doc_id)
        for shard, page in sorted(pages.items())
        for i, (p, s, doc_id) in enumerate(page.keys)
    ]
    keys.sort(key=lambda k: (-k[0], -k[1], k[2], k[3]))
    return keys


def too_few_groups(pages: dict[int, ShardRanking], window: int, wanted: int, at_least: int) -> bool:
    """Whether a collapsed page needs a larger window: fewer groups than ``wanted``
    while a shard may hold more candidates (it filled the window)."""
    if window >= MAX_COLLAPSE_WINDOW or all(len(p.keys) < window for p in pages.values()):
        return False
    page, _copies = collapsed_page(merged_keys(pages)[:window], pages, 0, wanted, at_least)
    return len(page) < wanted


def collapsed_page(
    keys: list[Key],
    pages: dict[int, ShardRanking],
    offset: int,
    limit: int,
    at_least: int,
) -> tuple[list[Key], dict[str, list[Duplicate]]]:
    """The page's keys after grouping the merged window's copies, with each leader's
    copies (the grouping one index would do over the same candidates)."""
    if not keys:
        return [], {}
    found = [pages[shard].copies for _p, _s, shard, _i, _id in keys]
    rows = [copies[i] if copies is not None else EMPTY_COPY
            for copies, (_p, _s, _shard, i, _id) in zip(found, keys, strict=True)]  # fmt: skip
    signatures = np.frombuffer(b"".join(row[0] for row in rows), np.uint8)
    groups = group_copies(signatures.reshape(len(rows), SIGNATURE_BYTES), at_least)
    chosen = []
    copies: dict[str, list[Duplicate]] = {}
    for group in groups[offset : offset + limit]:
        leader = keys[group.leader]
        chosen.append(leader)
        copies[leader[4]] = []
        for row, shared in group.copies:
            _signature, source, published = rows[row]
            date = None if published is None else from_timestamp(published)
            copies[leader[4]].append(
                Duplicate(keys[row][4], source, date, float(similarity(shared)))
            )
    return chosen, copies
