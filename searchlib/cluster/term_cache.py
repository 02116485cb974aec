"""Each shard's term statistics, kept across queries until that shard is written.

A query whose words need no expansion needs, from every shard, the document
frequencies of its terms and the fields' totals (``ShardSearcher.term_statistics``).
Words recur from query to query (news queries follow the news), so the client keeps
each shard's answers with the shard's generation in the catalog: a query whose terms
every shard has already counted at its current generation skips the statistics round
(rank, then fetch: two rounds), and a write to one shard drops only that shard's part.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from searchlib.query.shard import ShardStatistics

__all__ = ["TERMS_PER_SHARD", "ShardTermCache"]

TERMS_PER_SHARD = 100_000  # (field, term) frequencies kept per shard, at most

Key = tuple[str, str]


@dataclass
class _ShardTerms:
    generation: int
    doc_counts: dict[str, int]
    total_lengths: dict[str, float]
    freqs: dict[Key, int] = field(default_factory=dict)


class ShardTermCache:
    """Term statistics per shard at one generation each (thread-safe)."""

    def __init__(self, capacity: int = TERMS_PER_SHARD) -> None:
        self.capacity = capacity
        self._shards: dict[int, _ShardTerms] = {}
        self._lock = threading.Lock()

    def lookup(self, shard: int, generation: int, keys: list[Key]) -> ShardStatistics | None:
        """The shard's statistics of ``keys`` at ``generation``, or None unless every
        key is known at that generation (then all are asked for again, so that one
        answer never mixes two commits)."""
        with self._lock:
            entry = self._shards.get(shard)
            if entry is None or entry.generation != generation:
                return None
            try:
                freqs = {key: entry.freqs[key] for key in keys}
            except KeyError:
                return None
            return dict(entry.doc_counts), dict(entry.total_lengths), freqs

    def store(self, shard: int, generation: int, part: ShardStatistics) -> None:
        """Keep a shard's answer, given at ``generation``."""
        doc_counts, total_lengths, freqs = part
        with self._lock:
            entry = self._shards.get(shard)
            if entry is None or entry.generation != generation:
                entry = _ShardTerms(generation, dict(doc_counts), dict(total_lengths))
                self._shards[shard] = entry
            if len(entry.freqs) + len(freqs) > self.capacity:
                entry.freqs.clear()  # a bound, not an LRU: the next queries refill it
            entry.freqs.update(freqs)

    def forget(self) -> None:
        with self._lock:
            self._shards.clear()
