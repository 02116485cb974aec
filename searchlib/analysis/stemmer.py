"""Sastrawi stemming of single words, each distinct word stemmed once per process.

PySastrawi's ``Stemmer.stem()`` works on whole strings: it lowercases and replaces
every character outside ``[a-z0-9 -]`` with a space. We call its per-word entry point
on one already-normalized ASCII word at a time and keep offsets ourselves. The
Sastrawi stemmer (a ~30,000-word dictionary) is built on first use, once per process.

``StemCache`` holds the stems computed so far, in front of a ``StemTable`` (stems saved
before: an index keeps its own, ``engine.stems``, read lazily). ``STEMS`` is the
process's, for analyzers that belong to no index; an index gives its analyzer's stem
step a cache of its own, which forked indexing workers inherit.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Protocol

__all__ = ["STEMS", "StemCache", "StemTable", "is_stemmable"]

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


class StemTable(Protocol):
    """Stems saved earlier, looked up one word at a time (an index's stem file)."""

    def get(self, word: str) -> str | None: ...

    def __len__(self) -> int: ...


class StemCache:
    """Sastrawi stems by word, each computed once. ``backing`` (an index's saved
    stems) is consulted before stemming a word; what is computed or adopted here is
    kept in memory until it is saved (``export``)."""

    def __init__(self, backing: StemTable | None = None) -> None:
        self._stems: dict[str, str] = {}
        self.backing = backing

    def stem(self, word: str) -> str:
        """Sastrawi's stem of one lowercase ASCII word; other input is returned as is."""
        stem = self._stems.get(word)
        if stem is None:
            if self.backing is not None:
                stem = self.backing.get(word)
                if stem is not None:
                    return stem
            stem = _sastrawi().stem_word(word) if is_stemmable(word) else word
            if not stem:
                stem = word
            self._stems[word] = stem
        return stem

    def clear(self) -> None:
        """Forget every stem in memory (they are recomputed on demand)."""
        self._stems.clear()

    def __len__(self) -> int:
        """Stems in memory (not yet saved to ``backing``)."""
        return len(self._stems)

    def export(self) -> dict[str, str]:
        """A copy of the stems in memory (to save with an index, to hand to a parent)."""
        return dict(self._stems)

    def update(self, stems: dict[str, str]) -> int:
        """Adopt stems computed elsewhere (a worker, a saved file); returns how many were
        new. Entries that are not str -> str are ignored."""
        before = len(self._stems)
        for word, stem in stems.items():
            if isinstance(word, str) and isinstance(stem, str) and stem:
                self._stems.setdefault(word, stem)
        return len(self._stems) - before

    def saved(self, backing: StemTable) -> None:
        """The stems in memory are now in ``backing`` (a new stem file): look there."""
        self.backing = backing
        self._stems.clear()


STEMS = StemCache()
