"""Sorted arrays of document numbers: union, intersection and repeats dropped.

A bitmap when the arrays are large against the index, a merge of sorted runs when
they are small.
"""

from __future__ import annotations

import numpy as np

from searchlib.engine.arrays import member

__all__ = ["distinct", "intersect", "union"]

_EMPTY = np.zeros(0, dtype=np.int64)


def union(arrays: list[np.ndarray], size: int) -> np.ndarray:
    """The sorted union of sorted id arrays (a bitmap when they are large)."""
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return _EMPTY
    if len(arrays) == 1:
        return arrays[0]
    total = sum(len(a) for a in arrays)
    if total * 16 > size:
        seen = np.zeros(size, dtype=bool)
        for array in arrays:
            seen[array] = True
        return np.flatnonzero(seen).astype(np.int64, copy=False)
    return distinct(np.sort(np.concatenate(arrays), kind="stable"))  # merges the runs


def distinct(ascending: np.ndarray) -> np.ndarray:
    """An ascending array without its repeats."""
    if len(ascending) < 2:
        return ascending
    return ascending[np.concatenate(([True], ascending[1:] != ascending[:-1]))]


def intersect(arrays: list[np.ndarray]) -> np.ndarray:
    """The sorted intersection of sorted id arrays, smallest first."""
    if not arrays:
        return _EMPTY
    ordered = sorted(arrays, key=len)
    out = ordered[0]
    for array in ordered[1:]:
        if not len(out):
            break
        out = out[member(out, array)]
    return out
