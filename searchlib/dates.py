"""Parsing of publication dates: ISO 8601 strings, dates and datetimes, to UTC seconds.

Query ranges name whole periods: ``2021`` is the year, ``2021-08`` the month,
``2021-08-31`` the day; ``period()`` returns the half-open interval [start, end).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

__all__ = ["from_timestamp", "parse_datetime", "period", "to_timestamp"]

_YEAR = re.compile(r"(\d{4})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


def parse_datetime(value: object) -> datetime:
    """A timezone-aware UTC datetime from a date, datetime or ISO 8601 string."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if _YEAR.fullmatch(text):
            moment = datetime(int(text), 1, 1)
        elif match := _MONTH.fullmatch(text):
            moment = datetime(int(match[1]), int(match[2]), 1)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        raise TypeError(f"expected a date, datetime or ISO 8601 string, not {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_timestamp(value: object) -> int:
    """Seconds since the epoch (UTC) of a date, datetime or ISO 8601 string."""
    return int(parse_datetime(value).timestamp())


def from_timestamp(seconds: int) -> str:
    """The ISO 8601 string (UTC) of seconds since the epoch, as articles store dates."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def period(text: str) -> tuple[int, int]:
    """The [start, end) seconds of the period an ISO string names (year, month, day, instant)."""
    text = text.strip()
    start = parse_datetime(text)
    if _YEAR.fullmatch(text):
        if start.year == 9999:  # the last representable year runs to the end of time
            return int(start.timestamp()), int(
                datetime.max.replace(tzinfo=timezone.utc).timestamp()
            )
        end = start.replace(year=start.year + 1)
    elif _MONTH.fullmatch(text):
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        end = start + timedelta(days=1)
    else:
        end = start + timedelta(seconds=1)
    return int(start.timestamp()), int(end.timestamp())
