"""The Indonesian analyzer: ICU words -> NFKC + casefold -> colloquial map -> stopwords
-> stem exclusions -> Sastrawi stems, with offsets into the original string kept.

One ``Analyzer`` serves indexing and querying. It is also a Whoosh analyzer (it plugs
into ``whoosh.fields.TEXT(analyzer=...)`` and honours Whoosh's tokenizer keywords), and
it pickles without its caches, because Whoosh stores the schema, analyzer included,
inside the index.

>>> [t.term for t in Analyzer().analyze("Pembangunan negara-negara")]
['bangun', 'negara']
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from whoosh.analysis import Analyzer as WhooshAnalyzer
from whoosh.analysis import Token as WhooshToken

from searchlib.analysis.lexicon import (
    default_colloquial,
    default_stem_exclusions,
    default_stopwords,
)
from searchlib.analysis.stemmer import is_stemmable, sastrawi_stem
from searchlib.analysis.token import Token
from searchlib.analysis.tokenizer import HYPHENS, segment_words

__all__ = ["AnalyzedText", "Analyzer", "analyze"]

# A word glued to a number, as in Rp1.500.000 or covid19: the number is searchable too.
_LETTERS_NUMBER = re.compile(r"([^\W\d_]+)(\d[\d.,]*)")
_MISSING: Any = object()  # a cache miss (None means: not a word to index)
_CACHE_LIMIT = 1_000_000  # distinct surface forms kept per analyzer before a reset

# A classified surface form: (term, norm, why, parts); parts are
# (start, end, term, norm, why) relative to the surface, for hyphenated compounds.
_Info = tuple[str, str, str, tuple[tuple[int, int, str, str, str], ...]]


class AnalyzedText(str):
    """A string that carries its analysis, so the index analyzes each field only once.

    ``terms`` and ``norms`` map each index term (stemmed) and each normalized surface
    form to its positions; ``length`` counts the words (not compound parts).
    """

    terms: dict[str, list[int]]
    norms: dict[str, list[int]]
    length: int

    def __new__(
        cls, text: str, terms: dict[str, list[int]], norms: dict[str, list[int]], length: int
    ) -> AnalyzedText:
        value = super().__new__(cls, text)
        value.terms = terms
        value.norms = norms
        value.length = length
        return value


def _normalize(surface: str) -> str:
    return unicodedata.normalize("NFKC", surface).casefold()


class Analyzer(WhooshAnalyzer):
    """Configurable Indonesian analyzer.

    ``stopwords``, ``stem_exclusions`` and ``colloquial`` replace the defaults; the
    ``extra_*`` arguments extend them. ``stemming=False`` keeps normalized words.
    ``form="norm"`` makes the Whoosh side emit the unstemmed normalized form (the
    index's exact-form fields); ``analyze()`` always returns full tokens.
    """

    def __init__(
        self,
        *,
        stopwords: Iterable[str] | None = None,
        extra_stopwords: Iterable[str] = (),
        stem_exclusions: Mapping[str, str] | Iterable[str] | None = None,
        extra_stem_exclusions: Mapping[str, str] | Iterable[str] = (),
        colloquial: Mapping[str, str] | None = None,
        extra_colloquial: Mapping[str, str] | None = None,
        stemming: bool = True,
        form: str = "term",
    ) -> None:
        if form not in ("term", "norm"):
            raise ValueError(f"form must be 'term' or 'norm', not {form!r}")
        base_stops = default_stopwords() if stopwords is None else stopwords
        self.stopwords = frozenset(_normalize(w) for w in (*base_stops, *extra_stopwords))
        exclusions = dict(
            default_stem_exclusions() if stem_exclusions is None else _pairs(stem_exclusions)
        )
        exclusions.update(_pairs(extra_stem_exclusions))
        self.stem_exclusions = exclusions
        colloq = dict(default_colloquial() if colloquial is None else _pairs(colloquial))
        colloq.update(_pairs(extra_colloquial or {}))
        self.colloquial = colloq
        self.stemming = bool(stemming)
        self.form = form
        self._cache: dict[str, _Info | None] = {}
        self._reverse: dict[str, frozenset[str]] | None = None

    # -- configuration, equality and pickling -------------------------------------

    def _config(self) -> tuple:
        return (
            self.stopwords,
            tuple(sorted(self.stem_exclusions.items())),
            tuple(sorted(self.colloquial.items())),
            self.stemming,
            self.form,
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Analyzer)
            and type(other) is type(self)
            and self._config() == other._config()
        )

    def __hash__(self) -> int:
        return hash(self._config())

    def __repr__(self) -> str:
        return (
            f"Analyzer(stopwords={len(self.stopwords)}, "
            f"stem_exclusions={len(self.stem_exclusions)}, colloquial={len(self.colloquial)}, "
            f"stemming={self.stemming}, form={self.form!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)  # caches and ICU objects never go into the index
        state.pop("_reverse", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = {}
        self._reverse = None

    def sources_of(self, target: str) -> frozenset[str]:
        """The words the colloquial map or a stem exclusion turns into ``target``."""
        if self._reverse is None:
            reverse: dict[str, set[str]] = {}
            for word, mapped in (*self.colloquial.items(), *self.stem_exclusions.items()):
                if word != mapped:
                    reverse.setdefault(mapped, set()).add(word)
            self._reverse = {key: frozenset(words) for key, words in reverse.items()}
        return self._reverse.get(target, frozenset())

    def with_form(self, form: str) -> Analyzer:
        """A copy of this analyzer that emits ``form`` ('term' or 'norm') to Whoosh."""
        if form not in ("term", "norm"):
            raise ValueError(f"form must be 'term' or 'norm', not {form!r}")
        twin = Analyzer.__new__(Analyzer)
        twin.__setstate__({**self.__getstate__(), "form": form})
        return twin

    # -- sharing classifications with worker processes -------------------------------

    def cached_surfaces(self) -> Mapping[str, Any]:
        """Surface forms classified so far (read-only view for worker processes)."""
        return MappingProxyType(self._cache)

    def remember_surfaces(self, entries: Mapping[str, Any]) -> None:
        """Adopt classifications made by an analyzer of the same configuration
        (a worker's); ignored once the cache is full."""
        if len(self._cache) + len(entries) <= _CACHE_LIMIT:
            self._cache.update(entries)

    # -- classification of one surface form ----------------------------------------

    def _word(self, norm: str) -> tuple[str, str, str] | None:
        """(term, norm, why) of one hyphen-free normalized word, or None for a stopword."""
        why = ""
        mapped = self.colloquial.get(norm)
        if mapped is not None:
            norm, why = mapped, "colloquial"
        if norm in self.stopwords:
            return None
        excluded = self.stem_exclusions.get(norm)
        if excluded is not None:
            return excluded, norm, why or "excluded"
        if self.stemming and is_stemmable(norm):
            term = sastrawi_stem(norm)
            return term, norm, why or ("stemmed" if term != norm else "unchanged")
        return norm, norm, why or "unchanged"

    def _classify(self, surface: str) -> _Info | None:
        norm = _normalize(surface)
        if not any(h in norm for h in HYPHENS):
            word = self._word(norm)
            if word is None:
                return None
            glued = _LETTERS_NUMBER.fullmatch(norm)
            if glued and word[2] == "unchanged" and len(norm) == len(surface):
                number_start = glued.start(2)
                part = (number_start, len(surface), glued.group(2), glued.group(2), "part")
                return word[0], word[1], "compound", (part,)
            return (*word, ())
        norm = norm.replace("\u2010", "-").replace("\u2011", "-")
        if norm in self.stopwords:
            return None
        if norm in self.stem_exclusions:
            return self.stem_exclusions[norm], norm, "excluded", ()
        if self.stemming and is_stemmable(norm):
            stem = sastrawi_stem(norm)
            if "-" not in stem:  # Sastrawi recognised a reduplication
                stem = self.stem_exclusions.get(stem, stem)
                return stem, norm, "reduplication", ()
        pieces = norm.split("-")
        if len(set(pieces)) == 1 and pieces[0]:
            word = self._word(pieces[0])
            return None if word is None else (word[0], norm, "reduplication", ())
        return norm, norm, "compound", tuple(self._parts(surface))

    def _parts(self, surface: str) -> Iterator[tuple[int, int, str, str, str]]:
        """The words of a hyphenated compound, searchable on their own."""
        start = 0
        for index in range(len(surface) + 1):
            if index == len(surface) or surface[index] in HYPHENS:
                piece = surface[start:index]
                if len(piece) > 1:
                    word = self._word(_normalize(piece))
                    if word is not None:
                        yield start, index, word[0], word[1], "part"
                start = index + 1

    def _info(self, surface: str) -> _Info | None:
        cache = self._cache
        if surface in cache:
            return cache[surface]
        else:
            info = self._classify(surface)
            if not info or not info[0]:
                info = None if info is None else (info[1] or surface, *info[1:])
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[surface] = info
            return info

    # -- public API ----------------------------------------------------------------

    def tokens(self, text: str, *, keep_stopwords: bool = False) -> list[Token]:
        """The tokens of ``text``; with ``keep_stopwords`` stopwords come too, with
        ``why == "stopword"`` and the normalized word as term."""
        cached = self._cache.get
        info_of = self._info
        out: list[Token] = []
        append = out.append
        bounds = segment_words(text)
        for position in range(len(bounds) // 2):
            start = bounds[2 * position]
            end = bounds[2 * position + 1]
            surface = text[start:end]
            info = cached(surface, _MISSING)
            if info is _MISSING:
                info = info_of(surface)
            if info is None:
                if keep_stopwords:
                    norm = _normalize(surface)
                    norm = self.colloquial.get(norm, norm)  # gak -> tidak, then dropped
                    append(Token(norm, surface, start, end, position, norm, "stopword"))
                continue
            term, norm, why, parts = info
            append(Token(term, surface, start, end, position, norm, why))
            for p_start, p_end, p_term, p_norm, p_why in parts:
                append(
                    Token(
                        p_term,
                        surface[p_start:p_end],
                        start + p_start,
                        start + p_end,
                        position,
                        p_norm,
                        p_why,
                        False,
                    )
                )
        return out

    def spans(self, text: str) -> list[tuple[int, int, str, str, int, bool]]:
        """``(start, end, term, norm, position, primary)`` of every token but
        stopwords: what ``tokens`` says, without building Token objects (snippets
        scan many passages per query)."""
        cached = self._cache.get
        info_of = self._info
        out: list[tuple[int, int, str, str, int, bool]] = []
        append = out.append
        bounds = iter(segment_words(text))
        for position, (start, end) in enumerate(zip(bounds, bounds, strict=False)):  # pairs
            surface = text[start:end]
            info = cached(surface, _MISSING)
            if info is _MISSING:
                info = info_of(surface)
            if info is None:
                continue
            term, norm, _why, parts = info
            append((start, end, term, norm, position, True))
            for p_start, p_end, p_term, p_norm, _p_why in parts:
                append((start + p_start, start + p_end, p_term, p_norm, position, False))
        return out

    def index_text(self, text: str) -> AnalyzedText:
        """Analyze for indexing: positions per term and per normalized form, no Token
        objects (the hot path of bulk indexing)."""
        cached = self._cache.get
        info_of = self._info
        terms: defaultdict[str, list[int]] = defaultdict(list)
        norms: defaultdict[str, list[int]] = defaultdict(list)
        length = 0
        bounds = iter(segment_words(text))
        for position, (start, end) in enumerate(zip(bounds, bounds, strict=False)):  # pairs
            surface = text[start:end]
            info = cached(surface, _MISSING)
            if info is _MISSING:
                info = info_of(surface)
            if info is None:
                continue
            length += 1
            term, norm, _why, parts = info
            terms[term].append(position)
            norms[norm or term].append(position)
            if parts:
                for part in parts:
                    terms[part[2]].append(position)
                    norms[part[3] or part[2]].append(position)
        return AnalyzedText(text, dict(terms), dict(norms), length)

    def analyze(self, text: str) -> list[Token]:
        """The tokens of ``text`` without stopwords (positions still count them)."""
        if not isinstance(text, str):
            raise TypeError(f"analyze() takes a str, not {type(text).__name__}")
        return self.tokens(text)

    def explain(self, text: str) -> list[Token]:
        """Every token of ``text``, stopwords included, with the rule that made its term."""
        return self.tokens(text, keep_stopwords=True)

    def term(self, word: str) -> str | None:
        """The index term of one word, or None for a stopword."""
        info = self._info(word)
        return None if info is None else info[0]

    # -- Whoosh protocol -----------------------------------------------------------

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[WhooshToken]:
        if isinstance(value, AnalyzedText):
            yield from _prepared_tokens(value, self.form, positions, removestops, mode, kwargs)
            return
        if tokenize:
            tokens = self.tokens(value, keep_stopwords=not removestops)
        else:
            info = self._info(value)
            term, norm = (_normalize(value),) * 2 if info is None else info[:2]
            tokens = [Token(term, value, 0, len(value), 0, norm, "")]
        use_norm = self.form == "norm"
        out = WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for token in tokens:
            out.text = token.norm if use_norm and token.norm else token.term
            out.stopped = token.why == "stopword"
            out.boost = 1.0
            if keeporiginal:
                out.original = token.text
            if positions:
                out.pos = start_pos + token.position
            if chars:
                out.startchar = start_char + token.start
                out.endchar = start_char + token.end
            yield out


def _prepared_tokens(
    value: AnalyzedText, form: str, positions: bool, removestops: bool, mode: str, kwargs: dict
) -> Iterator[WhooshToken]:
    """Whoosh tokens of an already analyzed text (positions only: no offsets kept)."""
    out = WhooshToken(positions, False, removestops=removestops, mode=mode, **kwargs)
    for text, found in (value.norms if form == "norm" else value.terms).items():
        for position in found:
            out.text = text
            out.boost = 1.0
            out.stopped = False
            if positions:
                out.pos = position
            yield out


def _pairs(words: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    if isinstance(words, Mapping):
        return {_normalize(k): _normalize(v) for k, v in words.items()}
    return {_normalize(w): _normalize(w) for w in words}


_default: Analyzer | None = None


def analyze(text: str) -> list[Token]:
    """Analyze ``text`` with the default Indonesian analyzer.

    >>> [(t.text, t.term) for t in analyze("Kedutaan membangun hubungan")]
    [('Kedutaan', 'duta'), ('membangun', 'bangun'), ('hubungan', 'hubung')]
    """
    global _default
    if _default is None:
        _default = Analyzer()
    return _default.analyze(text)
