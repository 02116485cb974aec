"""Recency for news: a decay on the publication date, blended into the relevance score.

``Recency`` describes the decay as Elasticsearch's ``gauss``, ``exp`` and ``linear``
decay functions do: at ``origin`` (the search's own time unless given) and within
``offset`` of it the decay is 1; at ``offset + scale`` from it, ``decay``; further out it
falls on towards 0 (``gauss`` quickest past the scale, ``exp`` slowest, ``linear``
reaching 0 at ``offset + scale / (1 - decay)``).

A decay multiplied into the score (``function_score``'s ``boost_mode: multiply``) drives
an old perfect match to nothing. Here it is blended instead:

    score' = score * (1 + weight * decay(published))

so a fresh article gains at most ``weight`` (a tenth at 0.1) over an equally relevant
old one: near-ties go to the newer article, while an old article more than that much
more relevant stays above a marginal new one. An undated article gains nothing. Every
factor is at least 1 and at most ``1 + weight``, and each document's is known before it is
scored, so exact pruning multiplies a document's bound by its own factor (and a
clause's bound by ``1 + weight``) and stays exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np

from searchlib.dates import to_timestamp
from searchlib.engine.schema import MISSING_DATE

__all__ = ["DECAY_FUNCTIONS", "RECOMMENDED_RECENCY", "Recency", "duration_seconds"]

DECAY_FUNCTIONS = ("gauss", "exp", "linear")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy])\s*")


def duration_seconds(value: Any, name: str) -> float:
    """Seconds in a duration: ``"30d"``, ``"12h"``, ``"2w"``, ``"1y"`` (s, m, h, d, w, y),
    a ``timedelta``, or a number of seconds."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError(
            f"{name} must be a duration such as '30d', '12h' or '2w' (or a timedelta, or "
            f"seconds), not {value!r}"
        )
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{name} must be a duration >= 0, not {value!r}")
    return seconds


@dataclass(frozen=True)
class Recency:
    """A decay on ``published`` blended into the score (see the module's docstring).

    ``scale`` and ``offset`` are durations (``"30d"``, a ``timedelta``, or seconds),
    kept as seconds; ``decay`` is the decay's value at ``offset + scale``; ``weight`` is the
    most a fresh article's score gains (0.1: a tenth); ``origin`` is the moment the
    decay is measured from (a date, datetime, ISO string or epoch seconds; None: the
    time of each search).
    """

    scale: Any = "30d"
    offset: Any = "1d"
    decay: float = 0.5
    function: str = "exp"
    weight: float = 0.1
    origin: Any = None

    def __post_init__(self) -> None:
        scale = duration_seconds(self.scale, "recency scale")
        if scale <= 0:
            raise ValueError(f"recency scale must be longer than 0, not {self.scale!r}")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "offset", duration_seconds(self.offset, "recency offset"))
        if self.function not in DECAY_FUNCTIONS:
            raise ValueError(
                f"recency function must be one of {', '.join(DECAY_FUNCTIONS)}, "
                f"not {self.function!r}"
            )
        if not (isinstance(self.decay, (int, float)) and 0 < self.decay < 1):
            raise ValueError(
                f"recency decay must be between 0 and 1 (exclusive), not {self.decay!r}"
            )
        weight = self.weight
        if not (isinstance(weight, (int, float)) and not isinstance(weight, bool)):
            raise ValueError(f"recency weight must be a number >= 0, not {weight!r}")
        if not (math.isfinite(weight) and 0 <= weight <= 100):
            raise ValueError(f"recency weight must be from 0 to 100, not {weight!r}")
        if self.origin is not None:
            object.__setattr__(self, "origin", _moment(self.origin))

    @property
    def ceiling(self) -> float:
        """The largest factor a score is multiplied by."""
        return 1.0 + float(self.weight)

    def at(self, now: int) -> Recency:
        """This recency measured from ``now`` (epoch seconds) unless its origin is set."""
        return self if self.origin is not None else replace(self, origin=int(now))

    def decays(self, published: np.ndarray) -> np.ndarray:
        """The decay (0 to 1) of each publication time (epoch seconds; undated: 0)."""
        if self.origin is None:
            raise ValueError("a recency's origin must be set before it decays (Recency.at)")
        dated = published != MISSING_DATE
        distance = np.abs(published.astype(np.float64) - float(self.origin)) - self.offset
        steps = np.maximum(distance, 0.0) / self.scale
        if self.function == "gauss":
            value = np.power(self.decay, steps * steps)
        elif self.function == "exp":
            value = np.power(self.decay, steps)
        else:
            value = np.maximum(1.0 - (1.0 - self.decay) * steps, 0.0)
        return np.where(dated, value, 0.0)

    def factors(self, published: np.ndarray) -> np.ndarray:
        """What each document's score is multiplied by: ``1 + weight * decay``."""
        return 1.0 + float(self.weight) * self.decays(published)


def _moment(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"recency origin must be a moment, not {value!r}")
        return int(value)
    try:
        return to_timestamp(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"recency origin must be a date, datetime, ISO 8601 string or epoch seconds, "
            f"not {value!r}"
        ) from exc


# Chosen by measurement on the judged sets with random dates (README "Recency").
RECOMMENDED_RECENCY = Recency()
