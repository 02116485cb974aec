"""Collection statistics for BM25F: how many documents have a field, the field's total
length, and each term's document frequency.

A search normally takes them from its own snapshot (``LocalStatistics``). A sharded
index gathers them from every shard once per commit generation and hands every shard
the same ``GlobalStatistics``, so each shard scores exactly as one index holding all
the documents would: that is what makes distributed ranking exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from searchlib.engine import TEXT_FIELDS, Snapshot

__all__ = ["GlobalStatistics", "LocalStatistics", "Statistics", "gather_statistics"]


class Statistics:
    """What BM25F reads about the collection (the interface)."""

    def doc_count(self, field: str) -> int:
        """Live documents with a non-empty ``field`` (a stemmed text field)."""
        raise NotImplementedError  # pragma: no cover

    def total_length(self, field: str) -> float:
        """The sum of ``field``'s lengths over live documents."""
        raise NotImplementedError  # pragma: no cover

    def doc_freq(self, field: str, term: str, local: int) -> int:
        """Live documents holding ``term`` in ``field``; ``local`` is the count in the
        snapshot being scored (the answer when the statistics are local)."""
        raise NotImplementedError  # pragma: no cover


class LocalStatistics(Statistics):
    """The statistics of one snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def doc_count(self, field: str) -> int:
        return int(self._snapshot.field_docs[field])

    def total_length(self, field: str) -> float:
        return float(self._snapshot.total_length[field])

    def doc_freq(self, field: str, term: str, local: int) -> int:
        return local


@dataclass(frozen=True)
class GlobalStatistics(Statistics):
    """Statistics summed over shards: plain data, cheap to send to every shard.

    ``doc_freqs`` maps ``(field, term)`` to the summed document frequency; a term it
    lacks has frequency 0 everywhere (the shard's local count is then also 0).
    """

    doc_counts: Mapping[str, int]
    total_lengths: Mapping[str, float]
    doc_freqs: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def doc_count(self, field: str) -> int:
        return int(self.doc_counts.get(field, 0))

    def total_length(self, field: str) -> float:
        return float(self.total_lengths.get(field, 0.0))

    def doc_freq(self, field: str, term: str, local: int) -> int:
        return int(self.doc_freqs.get((field, term), local))


def gather_statistics(
    parts: Iterable[tuple[Mapping[str, int], Mapping[str, float], Mapping[tuple[str, str], int]]],
) -> GlobalStatistics:
    """Sum the ``(doc_counts, total_lengths, doc_freqs)`` of several shards."""
    counts: dict[str, int] = dict.fromkeys(TEXT_FIELDS, 0)
    lengths: dict[str, float] = dict.fromkeys(TEXT_FIELDS, 0.0)
    freqs: dict[tuple[str, str], int] = {}
    for doc_counts, total_lengths, doc_freqs in parts:
        for name, count in doc_counts.items():
            counts[name] = counts.get(name, 0) + int(count)
        for name, length in total_lengths.items():
            lengths[name] = lengths.get(name, 0.0) + float(length)
        for key, freq in doc_freqs.items():
            freqs[key] = freqs.get(key, 0) + int(freq)
    return GlobalStatistics(counts, lengths, freqs)
