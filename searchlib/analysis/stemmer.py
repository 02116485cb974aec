"""Sastrawi stemming of single words, each distinct word stemmed once per process.

PySastrawi's ``Stemmer.stem()`` works on whole strings: it lowercases and replaces
every character outside ``[a-z0-9 -]`` with a space. We call its per-word entry point
on one already-normalized ASCII word at a time and keep offsets ourselves. The
Sastrawi stemmer (a ~30,000-word dictionary) is built on first use, once per process.
"""

from __future__ import annotations

import re
import threading

__all__ = ["export_stems", "import_stems", "is_stemmable", "sastrawi_stem", "stem_cache_size"]

_STEMMABLE = re.compile(r"[a-z]+(?:-[a-z]+)*")
_lock = threading.Lock()
_stemmer = None
_cache: dict[str, str] = {}


def _sastrawi():
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


def sastrawi_stem(word: str) -> str:
    """Sastrawi's stem of one lowercase ASCII word (cached); other input is returned as is."""
    stem = _cache.get(word)
    if stem is None:
        stem = _sastrawi().stem_word(word) if is_stemmable(word) else word
        if not stem:
            stem = word
        _cache[word] = stem
    return stem


def stem_cache_size() -> int:
    """How many distinct words this process has stemmed (for benchmarks and stats)."""
    return len(_cache)


def export_stems() -> dict[str, str]:
    """A copy of every stem computed in this process (to persist with an index)."""
    return dict(_cache)


def import_stems(stems: dict[str, str]) -> int:
    """Preload stems computed earlier (by this searchlib and Sastrawi); returns how many
    were new. Entries that are not str -> str are ignored."""
    before = len(_cache)
    for word, stem in stems.items():
        if isinstance(word, str) and isinstance(stem, str) and stem:
            _cache.setdefault(word, stem)
    return len(_cache) - before
