"""The named steps of the analysis chain, each one job on one word.

A ``Word`` goes through the steps in order: ``normalize`` (NFKC + casefold) ->
``colloquial`` (slang to standard forms) -> ``stopwords`` -> ``stem_guard`` (words
whose stem is fixed by hand) -> ``stem`` (Sastrawi) -> ``compound_parts`` (the words of
a hyphenated compound, the number glued to a word). A step may drop the word (return
None) or change its ``term``, ``norm`` and ``why``; no step touches offsets (the
tokenizer's), so ``text[start:end]`` stays the surface. Steps are plain picklable
objects: the chain is stored with the index. Their order and configuration are the
analyzer's identity (two analyzers with equal steps analyze alike).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from searchlib.analysis.stemmer import STEMS, StemCache, is_stemmable
from searchlib.analysis.tokenizer import HYPHENS
from searchlib.errors import AnalyzerError

__all__ = [
    "STOPWORD_MODES",
    "Colloquial",
    "CompoundParts",
    "Normalize",
    "Part",
    "Stem",
    "StemGuard",
    "Step",
    "Stopwords",
    "Word",
    "WordChain",
    "normalize_text",
]

# A word glued to a number, as in Rp1.500.000 or covid19: the number is searchable too.
_LETTERS_NUMBER = re.compile(r"([^\W\d_]+)(\d[\d.,]*)")
_HYPHEN_VARIANTS = str.maketrans({"\u2010": "-", "\u2011": "-"})
STOPWORD_MODES = ("drop", "query")

# A part of a compound: (start, end) relative to the surface, term, norm, why.
Part = tuple[int, int, str, str, str]


def normalize_text(text: str) -> str:
    """NFKC + casefold: the one normalization index and queries share."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(slots=True)
class Word:
    """One word on its way through the chain. ``surface`` is the untouched text,
    ``norm`` the normalized (unstemmed) form, ``term`` the index form so far;
    ``final`` means a step fixed the term (later steps leave it); ``stopword`` marks a
    word that is indexed but dropped from queries that have other words."""

    surface: str
    norm: str
    term: str
    why: str = ""
    final: bool = False
    stopword: bool = False
    parts: tuple[Part, ...] = ()


class WordChain(Protocol):
    """What a step may ask of the chain it runs in."""

    def word(self, norm: str, surface: str) -> Word | None:
        """``norm`` through the word-level steps (everything but compound parts)."""

    def guarded(self, term: str) -> str:
        """``term`` after the chain's stem guards."""


class Step:
    """One named step; ``apply`` returns the word (changed or not) or None to drop it."""

    name: ClassVar[str]
    # A step that only normalizes characters (case, width, accents): it also runs on
    # the words of prefix and fuzzy queries (``Analyzer.normalize``), which are never
    # stemmed or dropped (Lucene's ``Analyzer.normalize``).
    normalizes: ClassVar[bool] = False
    # A step that only chooses the term: it never changes ``norm`` nor drops a word
    # (so ``Analyzer.norms`` can skip it).
    keeps_norm: ClassVar[bool] = False

    def apply(self, word: Word, chain: WordChain) -> Word | None:  # pragma: no cover
        raise NotImplementedError

    def config(self) -> tuple[Any, ...]:
        """What makes two steps of this kind analyze alike."""
        return ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.config()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize(Step):
    """NFKC + casefold; Unicode hyphens become ``-``."""

    name = "normalize"
    normalizes = True

    def apply(self, word: Word, chain: WordChain) -> Word | None:
        word.norm = word.term = normalize_text(word.surface).translate(_HYPHEN_VARIANTS)
        return word


def _pairs(words: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    if isinstance(words, Mapping):
        return {normalize_text(k): normalize_text(v) for k, v in words.items()}
    return {normalize_text(w): normalize_text(w) for w in words}


@dataclass(eq=False)
class Colloquial(Step):
    """Informal spellings to standard words (``gak`` -> ``tidak``): both norm and term."""

    mapping: dict[str, str] = field(default_factory=dict)
    name = "colloquial"

    def __post_init__(self) -> None:
        self.mapping = _pairs(self.mapping)

    def apply(self, word: Word, chain: WordChain) -> Word | None:
        mapped = self.mapping.get(word.norm)
        if mapped is not None:
            word.norm = word.term = mapped
            word.why = "colloquial"
        return word

    def config(self) -> tuple[Any, ...]:
        return tuple(sorted(self.mapping.items()))

    def __repr__(self) -> str:
        return f"Colloquial({len(self.mapping)} words)"


@dataclass(eq=False)
class Stopwords(Step):
    """Words too common to search. ``mode="drop"``: never indexed nor searched (their
    positions still count); ``mode="query"``: indexed like any word (so phrases and
    queries made only of such words work) and dropped from a query that has other
    words."""

    words: frozenset[str] = frozenset()
    mode: str = "drop"
    name = "stopwords"

    def __post_init__(self) -> None:
        if self.mode not in STOPWORD_MODES:
            raise AnalyzerError(f"stopword mode must be one of {STOPWORD_MODES}, not {self.mode!r}")
        self.words = frozenset(normalize_text(w) for w in self.words)

    def apply(self, word: Word, chain: WordChain) -> Word | None:
        if word.norm in self.words:
            if self.mode == "drop":
                return None
            word.stopword = True
        return word

    def config(self) -> tuple[Any, ...]:
        return (self.words, self.mode)

    def __repr__(self) -> str:
        return f"Stopwords({len(self.words)} words, mode={self.mode!r})"


@dataclass(eq=False)
class StemGuard(Step):
    """Words whose index term is fixed by hand (names, words Sastrawi cuts wrongly):
    the stemmer never sees them."""

    exclusions: dict[str, str] = field(default_factory=dict)
    name = "stem_guard"
    keeps_norm = True

    def __post_init__(self) -> None:
        self.exclusions = _pairs(self.exclusions)

    def apply(self, word: Word, chain: WordChain) -> Word | None:
        fixed = self.exclusions.get(word.norm)
        if fixed is not None:
            word.term = fixed
            word.why = word.why or "excluded"
            word.final = True
        return word

    def config(self) -> tuple[Any, ...]:
        return tuple(sorted(self.exclusions.items()))

    def __repr__(self) -> str:
        return f"StemGuard({len(self.exclusions)} words)"


class Stem(Step):
    """Sastrawi's stem of lowercase ASCII words. A hyphenated word Sastrawi reads as a
    reduplication (``buku-buku``) gets the root, guarded again; other hyphenated words
    are left to ``compound_parts``. Stems come from a ``StemCache`` (by default the
    process's, which indexes share with their worker processes)."""

    name = "stem"
    keeps_norm = True

    def __init__(self, cache: StemCache | None = None) -> None:
        self.cache = STEMS if cache is None else cache

    def __getstate__(self) -> dict[str, Any]:
        return {}  # the cache is the process's, never stored in an index

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.cache = STEMS

    def apply(self, word: Word, chain: WordChain) -> Word | None:
        if word.final:
            return word
        norm = word.norm
        hyphenated = "-" in norm
        if not is_stemmable(norm):
            if not hyphenated:
                word.why = word.why or "unchanged"
            return word
        stem = self.cache.stem(norm)
        if not hyphenated:
            word.term = stem
            word.why = word.why or ("stemmed" if stem != norm else "unchanged")
        elif "-" not in stem:  # Sastrawi recognised a reduplication
            word.term = chain.guarded(stem)
            word.why = "reduplication"
            word.final = True
        return word


class CompoundParts(Step):
    """Hyphenated words: a repeated word (``negara-negara``) is that word; other
    compounds keep the whole form as term and add each part as a token of its own.
    A word glued to a number (``covid19``) adds the number."""

    name = "compound_parts"

    def apply(self, word: Word, chain: WordChain) -> Word | None:
        norm, surface = word.norm, word.surface
        if "-" not in norm:
            glued = _LETTERS_NUMBER.fullmatch(norm)
            if glued and word.why == "unchanged" and len(norm) == len(surface):
                number = glued.group(2)
                word.parts = ((glued.start(2), len(surface), number, number, "part"),)
                word.why = "compound"
            return word
        if word.final:
            return word
        pieces = norm.split("-")
        if len(set(pieces)) == 1 and pieces[0]:
            inner = chain.word(pieces[0], pieces[0])
            if inner is None:
                return None
            word.term, word.why = inner.term, "reduplication"
            return word
        word.why = "compound"
        word.parts = tuple(self._parts(surface, chain))
        return word

    @staticmethod
    def _parts(surface: str, chain: WordChain) -> Iterable[Part]:
        start = 0
        for index in range(len(surface) + 1):
            if index == len(surface) or surface[index] in HYPHENS:
                piece = surface[start:index]
                if len(piece) > 1:
                    inner = chain.word(normalize_text(piece), piece)
                    if inner is not None:
                        yield start, index, inner.term, inner.norm, "part"
                start = index + 1
