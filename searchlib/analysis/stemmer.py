"""Sastrawi stemming of single words, each distinct word stemmed once per process.

PySastrawi's ``Stemmer.stem()`` works on whole strings: it lowercases and replaces
every character outside ``[a-z0-9 -]`` with a space. We call its per-word entry point
on one already-normalized ASCII word at a time and keep offsets ourselves. The
Sastrawi stemmer (a ~30,000-word dictionary) is built on first use, once per process.

``StemCache`` holds the stems computed so far. ``STEMS`` is the process's: every
analyzer's stem step uses it, forked indexing workers inherit it, and the index saves
it beside itself (``stemcache``) so a restarted process never stems a word twice.
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = ["STEMS", "StemCache", "is_stemmable"]

_STEMMABLE = re.compile(r"[a-z]+(?:-[a-z]+)*")
_lock = threading.Lock()
_stemmer: Any = None


def _sastrawi() -> Any:
    global _stemmer
    if _stemmer is None:
        with _lock:
            if _stemmer is None:
                from searchlib.analysis.fast_sastrawi import build_fast_stemmer

                # Sastrawi's own rules and dictionary, driven faster (same stems); we
                # keep our own cache and call its per-word method directly.
                _stemmer = build_fast_stemmer()
    return _stemmer


def is_stemmable(word: str) -> bool:
    """Sastrawi only understands lowercase ASCII letters (and hyphens)."""
    return _STEMMABLE.fullmatch(word) is not None


class StemCache:
    """Sastrawi stems by word, each computed once."""

    def __init__(self) -> None:
        self._stems: dict[str, str] = {}

    def stem(self, word: str) -> str:
        """Sastrawi's stem of one lowercase ASCII word; other input is returned as is."""
        stem = self._stems.get(word)
        if stem is None:
            stem = _sastrawi().stem_word(word) if is_stemmable(word) else word
            if not stem:
                stem = word
            self._stems[word] = stem
        return stem

    def clear(self) -> None:
        """Forget every stem (they are recomputed on demand)."""
        self._stems.clear()

    def __len__(self) -> int:
        return len(self._stems)

    def export(self) -> dict[str, str]:
        """A copy of every stem computed so far (to persist with an index)."""
        return dict(self._stems)

    def update(self, stems: dict[str, str]) -> int:
        """Adopt stems computed elsewhere (a worker, a saved file); returns how many were
        new. Entries that are not str -> str are ignored."""
        before = len(self._stems)
        for word, stem in stems.items():
            if isinstance(word, str) and isinstance(stem, str) and stem:
                self._stems.setdefault(word, stem)
        return len(self._stems) - before


STEMS = StemCache()
