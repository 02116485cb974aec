"""Giving freed memory back to the operating system after large transient work.

glibc keeps what a process frees for later allocations: below its mmap threshold,
which it raises to the size of the largest block freed so far (up to 32 MB), freed
blocks stay in the process's heap and arenas (the merge thread's included). A bulk
load frees hundreds of MB at a time (a batch's records and analyses, a merge's
arrays), so the resident size climbs far above what is live: at 60,000 articles,
388 MB resident after the adds, of which ``malloc_trim`` gave back 270 MB. After
such work the write path calls ``release_free_memory``; elsewhere (another C
library, another system) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

__all__ = ["release_free_memory"]


def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the process's freed heap pages to the system (glibc's ``malloc_trim``);
    False where the C library has no such call."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
