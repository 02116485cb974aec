"""Word lists the analyzer consults: stopwords, stem exclusions and the colloquial map.

Defaults: three data files curated by us: Indonesian function words
(``data/stopwords.txt``; PySastrawi's longer list, which also drops content words, is
``sastrawi_stopwords``), ``data/stem_exclusions.txt`` and ``data/colloquial.tsv``.
Users replace or extend each with Python collections or files in the same formats.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = [
    "default_colloquial",
    "default_stem_exclusions",
    "default_stopwords",
    "function_stopwords",
    "read_colloquial",
    "read_stem_exclusions",
    "read_word_list",
    "sastrawi_stopwords",
]


def _data_text(name: str) -> str:
    return resources.files("searchlib.analysis").joinpath("data").joinpath(name).read_text("utf-8")


def _lines(text: str) -> Iterable[str]:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def _parse_pairs(text: str, source: str) -> dict[str, str]:
    """Parse ``word`` or ``word<TAB>value`` lines; a lone word maps to itself."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(_lines(text), start=1):
        key, _, value = line.partition("\t")
        key, value = key.strip().casefold(), value.strip().casefold()
        if not key or " " in key:
            raise ValueError(f"{source}: line {number}: bad entry {line!r}")
        pairs[key] = value or key
    return pairs


@cache
def default_stopwords() -> frozenset[str]:
    """The default stopwords: searchlib's Indonesian function words (``data/stopwords.txt``),
    chosen over PySastrawi's list by measurement (README "Relevance")."""
    return function_stopwords()


def sastrawi_stopwords() -> frozenset[str]:
    """PySastrawi's Indonesian stopword list: function words and many content words."""
    from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory

    return frozenset(w.casefold() for w in StopWordRemoverFactory().get_stop_words())


@cache
def function_stopwords() -> frozenset[str]:
    """searchlib's list: Indonesian function words only (``data/stopwords.txt``)."""
    return frozenset(w.casefold() for w in _lines(_data_text("stopwords.txt")))


@cache
def default_stem_exclusions() -> Mapping[str, str]:
    """Our curated words that Sastrawi must not stem (or must stem to a given form)."""
    return _parse_pairs(_data_text("stem_exclusions.txt"), "stem_exclusions.txt")


@cache
def default_colloquial() -> Mapping[str, str]:
    """Our curated map of informal spellings to standard words (gak -> tidak, ...)."""
    pairs = _parse_pairs(_data_text("colloquial.tsv"), "colloquial.tsv")
    return {key: value for key, value in pairs.items() if value != key}


def read_word_list(path: str | os.PathLike[str]) -> frozenset[str]:
    """Read a stopword file: one word a line, ``#`` comments."""
    return frozenset(w.casefold() for w in _lines(Path(path).read_text("utf-8")))


def read_stem_exclusions(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a stem-exclusion file: ``word`` or ``word<TAB>stem`` a line."""
    return _parse_pairs(Path(path).read_text("utf-8"), os.fspath(path))


def read_colloquial(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a colloquial map file: ``informal<TAB>standard`` a line."""
    return _parse_pairs(Path(path).read_text("utf-8"), os.fspath(path))
