"""Checking the arguments of a search (``Index.search`` and a cluster's alike): clear
``QueryError``s naming the bad value, and the API's filters and dates made plan-ready."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from time import time
from typing import Any

from searchlib.dates import parse_datetime, period
from searchlib.errors import QueryError
from searchlib.query.ranking import DEFAULT_RANKING, Ranking

__all__ = ["SORTS", "CheckedSearch", "check_search"]

SORTS = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class CheckedSearch:
    filters: dict[str, list[str]]
    bounds: tuple[int | None, int | None]
    ranking: Ranking


def check_search(
    limit: Any,
    offset: Any,
    sort: Any,
    ranking: Any,
    filters: Mapping[str, str | Iterable[str]] | None,
    since: Any,
    until: Any,
) -> CheckedSearch:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 10_000:
        raise QueryError(f"limit must be an integer from 0 to 10000, not {limit!r}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise QueryError(f"offset must be a non-negative integer, not {offset!r}")
    if sort not in SORTS:
        raise QueryError(f"sort must be 'relevance', 'newest' or 'oldest', not {sort!r}")
    if ranking is not None and not isinstance(ranking, Ranking):
        raise QueryError(f"ranking must be a searchlib.Ranking, not {ranking!r}")
    bounds = (_bound(since, "since", low=True), _bound(until, "until", low=False))
    ranking = ranking or DEFAULT_RANKING
    if ranking.recency is not None and ranking.recency.origin is None:
        # Measured from the search's own moment, the same on every shard of a cluster.
        ranking = replace(ranking, recency=ranking.recency.at(int(time())))
    return CheckedSearch(_check_filters(filters), bounds, ranking)


def _check_filters(filters: Any) -> dict[str, list[str]]:
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise QueryError(f"filters must be a dict, not {type(filters).__name__}")
    out: dict[str, list[str]] = {}
    for name, value in filters.items():
        if name not in ("category", "source"):
            raise QueryError(f"unknown filter {name!r} (use 'category' or 'source')")
        values = [value] if isinstance(value, str) else list(value)
        if not all(isinstance(v, str) for v in values):
            raise QueryError(f"filter {name!r} takes strings, not {value!r}")
        out[name] = values
    return out


def _bound(value: Any, name: str, *, low: bool) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            start, end = period(value)
            return start if low else end
        moment = int(parse_datetime(value).timestamp())
        return moment if low else moment + 1
    except (TypeError, ValueError, OverflowError) as exc:
        raise QueryError(f"{name} is not a date, datetime or ISO 8601 string: {value!r}") from exc
