"""What a search collects beside its ranked page, each only when asked for.

An execution (``execute``) matches a plan and ranks the page (the top-k collector, with
exact pruning); the other collectors read its matches: the count of matches (exact up
to ``track_total`` and a lower bound past it, as Elasticsearch's ``track_total_hits``),
facet counts by label for the fields ``facets`` names (which needs every match), and
the "did you mean" suggestion when ``suggest`` is on (tantivy's ``Collector`` tuple, Lucene's
``MultiCollector``). A search that asks for no facets never counts labels over its
matches; one that asks for no suggestion never looks one up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from searchlib.engine import Snapshot
from searchlib.engine.schema import LABEL_COLUMNS
from searchlib.errors import QueryError

__all__ = [
    "FACET_FIELDS",
    "FACET_LIMIT",
    "NOTHING_MORE",
    "TRACK_TOTAL_HITS",
    "Collectors",
    "facet_counts",
    "top_facets",
]

FACET_FIELDS = LABEL_COLUMNS  # the fields facets can count: category, source
FACET_LIMIT = 20
TRACK_TOTAL_HITS = 10_000  # Elasticsearch's default


@dataclass(frozen=True)
class Collectors:
    """What a search collects beside its page: facet counts for ``facets`` (field
    names) and the suggestion if ``suggest``."""

    facets: tuple[str, ...] = ()
    suggest: bool = False
    # Matches counted exactly up to this many (None: always); past it a lower bound.
    track_total: int | None = TRACK_TOTAL_HITS

    @classmethod
    def of(
        cls,
        facets: Iterable[str] | str | None,
        suggest: bool,
        track_total_hits: int | bool = TRACK_TOTAL_HITS,
    ) -> Collectors:
        """Checked: ``facets`` names fields of ``FACET_FIELDS`` (or is None);
        ``track_total_hits`` is True (always exact) or a count."""
        if track_total_hits is True:
            track: int | None = None
        elif (
            isinstance(track_total_hits, int)
            and not isinstance(track_total_hits, bool)
            and track_total_hits >= 0
        ):
            track = track_total_hits
        else:
            raise QueryError(
                f"track_total_hits must be True or a count >= 0, not {track_total_hits!r}"
            )
        if facets is None:
            names: tuple[str, ...] = ()
        elif isinstance(facets, str):
            names = (facets,)
        else:
            names = tuple(facets)
        for name in names:
            if name not in FACET_FIELDS:
                raise QueryError(
                    f"cannot count facets of {name!r}: facets are counted for "
                    f"{', '.join(FACET_FIELDS)}"
                )
        if not isinstance(suggest, bool):
            raise QueryError(f"suggest must be True or False, not {suggest!r}")
        return cls(tuple(dict.fromkeys(names)), suggest, track)

    @property
    def count_up_to(self) -> int | None:
        """How far an execution must count matches exactly (None: all of them):
        facets read every match, so the count is then exact anyway."""
        return None if self.facets else self.track_total


# The page and the count only.
NOTHING_MORE = Collectors()


def facet_counts(
    snapshot: Snapshot, docs: np.ndarray, fields: Iterable[str], limit: int | None = FACET_LIMIT
) -> dict[str, dict[str, int]]:
    """Matches per value of each of ``fields``, most first (``limit`` values each, or
    all: a shard's complete counts, which a cluster sums)."""
    out: dict[str, dict[str, int]] = {}
    for name in fields:
        codes = snapshot.category if name == "category" else snapshot.source
        values = snapshot.category_values if name == "category" else snapshot.source_values
        # Codes shifted by one: -1 (no value) counts in bin 0, which is dropped.
        counts = np.bincount(codes[docs] + 1, minlength=len(values) + 1)[1:]
        present = [(-int(counts[i]), values[i]) for i in np.flatnonzero(counts).tolist()]
        out[name] = {value: -negative for negative, value in sorted(present)[:limit]}
    return out


def top_facets(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Complete counts (a cluster's sums) cut to the ``FACET_LIMIT`` largest."""
    return {
        name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT])
        for name, values in counts.items()
    }
