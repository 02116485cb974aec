"""The Indonesian analyzer: ICU words through a visible chain of named steps.

``tokenize`` (ICU, offsets in ``str`` units) -> ``normalize`` -> ``colloquial`` ->
``stopwords`` -> ``stem_guard`` -> ``stem`` -> ``compound_parts`` (``steps``). Each
distinct surface form goes through the steps once and is remembered; one traversal of
a text (``_walk``) serves ``tokens``, ``spans`` and ``index_text``. A user can insert,
remove or replace a step (``insert``, ``remove``, ``replace`` return a new analyzer).

One ``Analyzer`` serves indexing and querying and is stored with the index (it is also
a Whoosh analyzer: it plugs into ``whoosh.fields.TEXT(analyzer=...)``); it pickles its
steps, never its caches.

>>> [t.term for t in Analyzer().analyze("Pembangunan negara-negara")]
['bangun', 'negara']
>>> Analyzer().names
('normalize', 'colloquial', 'stopwords', 'stem_guard', 'stem', 'compound_parts')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from inspect import signature
from itertools import islice
from types import MappingProxyType
from typing import Any

from whoosh.analysis import Analyzer as WhooshAnalyzer
from whoosh.analysis import Token as WhooshToken

from searchlib.analysis.lexicon import (
    default_colloquial,
    default_stem_exclusions,
    default_stopwords,
)
from searchlib.analysis.registry import step_from_data, step_to_data
from searchlib.analysis.stemmer import StemCache
from searchlib.analysis.steps import (
    Colloquial,
    CompoundParts,
    Normalize,
    Stem,
    StemGuard,
    Step,
    Stopwords,
    Word,
    normalize_text,
)
from searchlib.analysis.token import Token
from searchlib.analysis.tokenizer import segment_words
from searchlib.errors import AnalyzerError

__all__ = ["AnalyzedText", "Analyzer", "analyze", "default_steps"]

_MISSING: Any = object()  # a cache miss (None means: not a word to index)
# Distinct surface forms an analyzer keeps classified. At the limit the newer half is
# forgotten: the forms seen first (a language's common words) stay, where a reset
# would classify them all again (in every worker a bulk load forks from a full
# cache). News vocabularies grow without end (about a million forms at a million
# articles); the first half million cover all but a sliver of the words read.
_CACHE_LIMIT = 500_000

# A classified surface form: (term, norm, why, parts, stopword); parts are
# (start, end, term, norm, why) relative to the surface.
_Info = tuple[str, str, str, tuple[tuple[int, int, str, str, str], ...], bool]


class AnalyzedText(str):
    """A string that carries its analysis, so the index analyzes each field only once.

    ``terms`` and ``norms`` map each index term (stemmed) and each normalized surface
    form to its positions; ``stops`` each dropped stopword (normalized) to its positions,
    so a phrase can require it there; ``length`` counts the words (not compound parts
    or stopwords); ``words`` are those words' normalized forms in text order (what a
    near-duplicate signature shingles).
    """

    terms: dict[str, list[int]]
    norms: dict[str, list[int]]
    length: int
    stops: dict[str, list[int]]
    words: list[str]

    def __new__(
        cls,
        text: str,
        terms: dict[str, list[int]],
        norms: dict[str, list[int]],
        length: int,
        stops: dict[str, list[int]] | None = None,
        words: list[str] | None = None,
    ) -> AnalyzedText:
        value = super().__new__(cls, text)
        value.terms = terms
        value.norms = norms
        value.length = length
        value.stops = stops or {}
        value.words = words or []
        return value


def default_steps(
    *,
    stopwords: Iterable[str] | None = None,
    extra_stopwords: Iterable[str] = (),
    stopword_mode: str = "drop",
    stem_exclusions: Mapping[str, str] | Iterable[str] | None = None,
    extra_stem_exclusions: Mapping[str, str] | Iterable[str] = (),
    colloquial: Mapping[str, str] | None = None,
    extra_colloquial: Mapping[str, str] | None = None,
    stemming: bool = True,
) -> list[Step]:
    """The standard chain; the word lists replace (or, ``extra_*``, extend) the defaults."""
    colloq = dict(default_colloquial() if colloquial is None else colloquial)
    colloq.update(extra_colloquial or {})
    base = default_stem_exclusions() if stem_exclusions is None else stem_exclusions
    guard = dict(_as_pairs(base))
    guard.update(_as_pairs(extra_stem_exclusions))
    stops = default_stopwords() if stopwords is None else stopwords
    steps: list[Step] = [
        Normalize(),
        Colloquial(colloq),
        Stopwords(frozenset((*stops, *extra_stopwords)), stopword_mode),
        StemGuard(guard),
    ]
    if stemming:
        steps.append(Stem())
    steps.append(CompoundParts())
    return steps


# An option left at its default (for telling steps and options apart).
_OPTION_DEFAULTS = {
    name: parameter.default for name, parameter in signature(default_steps).parameters.items()
}


def _as_pairs(words: Mapping[str, str] | Iterable[str]) -> Mapping[str, str]:
    return words if isinstance(words, Mapping) else {w: w for w in words}


class Analyzer(WhooshAnalyzer):
    """Configurable Indonesian analyzer: ``steps`` in order (default: ``default_steps``
    built from the keyword arguments). ``stopword_mode="query"`` indexes stopwords and
    drops them only from queries that have other words. ``form="norm"`` makes the
    Whoosh side emit the unstemmed normalized form; ``analyze()`` returns full tokens.
    """

    def __init__(
        self,
        steps: Iterable[Step] | None = None,
        *,
        stopwords: Iterable[str] | None = None,
        extra_stopwords: Iterable[str] = (),
        stopword_mode: str = "drop",
        stem_exclusions: Mapping[str, str] | Iterable[str] | None = None,
        extra_stem_exclusions: Mapping[str, str] | Iterable[str] = (),
        colloquial: Mapping[str, str] | None = None,
        extra_colloquial: Mapping[str, str] | None = None,
        stemming: bool = True,
        form: str = "term",
    ) -> None:
        if form not in ("term", "norm"):
            raise AnalyzerError(f"form must be 'term' or 'norm', not {form!r}")
        options = {
            "stopwords": stopwords,
            "extra_stopwords": extra_stopwords,
            "stopword_mode": stopword_mode,
            "stem_exclusions": stem_exclusions,
            "extra_stem_exclusions": extra_stem_exclusions,
            "colloquial": colloquial,
            "extra_colloquial": extra_colloquial,
            "stemming": stemming,
        }
        if steps is None:
            chosen = default_steps(**options)  # type: ignore[arg-type]
        else:
            given = sorted(k for k, v in options.items() if v != _OPTION_DEFAULTS[k])
            if given:
                raise AnalyzerError(f"give steps or word-list options, not both: {given}")
            chosen = list(steps)
        for step in chosen:
            if not isinstance(step, Step):
                raise AnalyzerError(f"not an analysis step: {step!r}")
        names = [step.name for step in chosen]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise AnalyzerError(f"steps named more than once: {repeated}")
        self.steps: tuple[Step, ...] = tuple(chosen)
        self.form = form
        self._init_caches()

    def _init_caches(self) -> None:
        self._word_steps = tuple(
            s for s in self.steps if not isinstance(s, (Normalize, CompoundParts))
        )
        self._guards = tuple(s for s in self.steps if isinstance(s, StemGuard))
        self._memo: dict[str, _Info | None] = {}
        # A dropped stopword's surface -> its normalized form (what a phrase asks for).
        self._stop_forms: dict[str, str] = {}
        self._reverse: dict[str, frozenset[str]] | None = None

    # -- the chain -----------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The steps' names, in order (``tokenize`` always comes first, implicitly)."""
        return tuple(step.name for step in self.steps)

    def step(self, name: str) -> Step | None:
        """The step called ``name``, or None."""
        return next((s for s in self.steps if s.name == name), None)

    def _index_of(self, name: str) -> int:
        if name not in self.names:
            raise AnalyzerError(f"no step named {name!r} (steps: {', '.join(self.names)})")
        return self.names.index(name)

    def _with_steps(self, steps: list[Step]) -> Analyzer:
        return Analyzer(steps, form=self.form)

    def insert(
        self, step: Step, *, before: str | None = None, after: str | None = None
    ) -> Analyzer:
        """A copy with ``step`` placed before or after the named step (else last)."""
        steps = list(self.steps)
        if before is not None and after is not None:
            raise AnalyzerError("give before or after, not both")
        if before is not None:
            steps.insert(self._index_of(before), step)
        elif after is not None:
            steps.insert(self._index_of(after) + 1, step)
        else:
            steps.append(step)
        return self._with_steps(steps)

    def remove(self, name: str) -> Analyzer:
        """A copy without the named step."""
        steps = list(self.steps)
        del steps[self._index_of(name)]
        return self._with_steps(steps)

    def replace(self, name: str, step: Step) -> Analyzer:
        """A copy with the named step replaced by ``step``."""
        steps = list(self.steps)
        steps[self._index_of(name)] = step
        return self._with_steps(steps)

    def with_form(self, form: str) -> Analyzer:
        """A copy of this analyzer that emits ``form`` ('term' or 'norm') to Whoosh."""
        return Analyzer(self.steps, form=form)

    # What the word-list steps hold (empty when the step is absent).
    @property
    def stopwords(self) -> frozenset[str]:
        found = self.step("stopwords")
        return found.words if isinstance(found, Stopwords) else frozenset()

    @property
    def stopword_mode(self) -> str:
        found = self.step("stopwords")
        return found.mode if isinstance(found, Stopwords) else "drop"

    @property
    def stem_exclusions(self) -> Mapping[str, str]:
        found = self.step("stem_guard")
        return MappingProxyType(found.exclusions if isinstance(found, StemGuard) else {})

    @property
    def colloquial(self) -> Mapping[str, str]:
        found = self.step("colloquial")
        return MappingProxyType(found.mapping if isinstance(found, Colloquial) else {})

    @property
    def stem_cache(self) -> StemCache | None:
        """The stem step's cache (None without one)."""
        found = self.step("stem")
        return found.cache if isinstance(found, Stem) else None

    @property
    def stemming(self) -> bool:
        return any(isinstance(s, Stem) for s in self.steps)

    # WordChain: what steps may ask of the chain they run in.
    def word(self, norm: str, surface: str) -> Word | None:
        """A normalized word through the word-level steps (no compound parts)."""
        current = Word(surface, norm, norm)
        for step in self._word_steps:
            applied = step.apply(current, self)
            if applied is None:
                return None
            current = applied
        return current

    def normalize(self, text: str) -> str:
        """``text`` through the chain's normalizing steps only (``Step.normalizes``:
        NFKC + casefold, a user's folding): how a prefix or fuzzy query word is
        compared with the index's terms, as Lucene's ``Analyzer.normalize``."""
        word = self._through(Word(text, text, text), [s for s in self.steps if s.normalizes])
        return "" if word is None else word.norm

    def norms(self, text: str) -> list[str]:
        """The normalized form of each word of ``text`` the chain keeps (dropped
        stopwords left out): every step but those that only choose the term
        (``Step.keeps_norm``: the stem guard, the stemmer), so no word is stemmed.
        What a synonym entry is matched by (query tokens' ``norm``)."""
        out: list[str] = []
        steps = [step for step in self.steps if not step.keeps_norm]
        bounds = segment_words(text)
        for i in range(0, len(bounds), 2):
            surface = text[bounds[i] : bounds[i + 1]]
            known = self._memo.get(surface, _MISSING)
            if known is not _MISSING:
                if known is not None:
                    out.append(known[1])
                continue
            word = self._through(Word(surface, surface, surface), steps)
            if word is not None:
                out.append(word.norm)
        return out

    def _through(self, word: Word, steps: Iterable[Step]) -> Word | None:
        """``word`` through ``steps`` in order; None once a step drops it."""
        for step in steps:
            applied = step.apply(word, self)
            if applied is None:
                return None
            word = applied
        return word

    def guarded(self, term: str) -> str:
        for guard in self._guards:
            term = guard.exclusions.get(term, term)
        return term

    # -- configuration, equality and pickling -------------------------------------

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Analyzer)
            and type(other) is type(self)
            and (self.steps, self.form) == (other.steps, other.form)
        )

    def __hash__(self) -> int:
        return hash((self.steps, self.form))

    def __repr__(self) -> str:
        return f"Analyzer([{', '.join(map(repr, self.steps))}], form={self.form!r})"

    def to_data(self) -> dict[str, Any]:
        """The chain as JSON data (each step by registered name and parameters): what
        an index stores; ``from_data`` builds the equal analyzer."""
        return {"form": self.form, "steps": [step_to_data(step) for step in self.steps]}

    @classmethod
    def from_data(cls, data: Any) -> Analyzer:
        """The analyzer ``to_data`` described, from this process's registered steps."""
        if not isinstance(data, Mapping) or not isinstance(data.get("steps"), list):
            raise AnalyzerError(f"not a stored analyzer: {data!r:.80}")
        return cls([step_from_data(s) for s in data["steps"]], form=data.get("form", "term"))

    def __getstate__(self) -> dict[str, Any]:
        # In-process transport only (worker processes, Dask): an index stores to_data.
        return {"steps": self.steps, "form": self.form}  # never the caches

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.steps = tuple(state["steps"])
        self.form = state["form"]
        self._init_caches()

    def sources_of(self, target: str) -> frozenset[str]:
        """The words the colloquial map or a stem exclusion turns into ``target``."""
        if self._reverse is None:
            reverse: dict[str, set[str]] = {}
            for word, mapped in (*self.colloquial.items(), *self.stem_exclusions.items()):
                if word != mapped:
                    reverse.setdefault(mapped, set()).add(word)
            self._reverse = {key: frozenset(words) for key, words in reverse.items()}
        return self._reverse.get(target, frozenset())

    # -- sharing classifications with worker processes -------------------------------

    def cached_surfaces(self) -> Mapping[str, Any]:
        """Surface forms classified so far (read-only view for worker processes)."""
        return MappingProxyType(self._memo)

    def share_classifications(self, other: Analyzer) -> bool:
        """Keep classified surface forms in ``other``'s cache from now on, when both
        analyze alike (another index's analyzer in this process: a worker's replicas
        of several shards), so a form is classified once per process, not once per
        index. False, and nothing shared, when their configurations differ."""
        if other is self or other != self:
            return False
        self._memo = other._memo
        return True

    def remember_surfaces(self, entries: Mapping[str, Any]) -> None:
        """Adopt classifications made by an analyzer of the same configuration
        (a worker's); ignored once the cache is full."""
        if len(self._memo) + len(entries) <= _CACHE_LIMIT:
            self._memo.update(entries)

    # -- one surface form, one traversal --------------------------------------------

    def _info(self, surface: str) -> _Info | None:
        known = self._memo.get(surface, _MISSING)
        if known is not _MISSING:
            return known
        word = self._through(Word(surface, surface, surface), self.steps)
        info: _Info | None = None
        if word is not None:
            term = word.term or word.norm or surface
            info = (term, word.norm, word.why, word.parts, word.stopword)
        if len(self._memo) >= _CACHE_LIMIT:
            self._memo = _older_half(self._memo)
        self._memo[surface] = info
        return info

    def _walk(self, text: str) -> tuple[list[int], list[_Info | None]]:
        """The word bounds of ``text`` (start, end, start, end, ...) and each word's
        classification: the one traversal ``tokens``, ``spans`` and ``index_text`` read
        (a flat list, not a generator: this is the hot path of indexing)."""
        memo = self._memo.get
        classify = self._info
        bounds = segment_words(text)
        infos: list[_Info | None] = []
        append = infos.append
        for i in range(0, len(bounds), 2):
            surface = text[bounds[i] : bounds[i + 1]]
            info = memo(surface, _MISSING)
            append(classify(surface) if info is _MISSING else info)
        return bounds, infos

    # -- public API ----------------------------------------------------------------

    def tokens(self, text: str, *, keep_stopwords: bool = False) -> list[Token]:
        """The tokens of ``text``; with ``keep_stopwords`` the dropped stopwords come
        too, with ``why == "stopword"`` and the normalized word as term."""
        out: list[Token] = []
        append = out.append
        colloquial = self.colloquial if keep_stopwords else {}
        bounds, infos = self._walk(text)
        for position, info in enumerate(infos):
            start, end = bounds[2 * position], bounds[2 * position + 1]
            surface = text[start:end]
            if info is None:
                if keep_stopwords:
                    norm = normalize_text(surface)
                    norm = colloquial.get(norm, norm)  # gak -> tidak, then dropped
                    append(Token(norm, surface, start, end, position, norm, "stopword"))
                continue
            term, norm, why, parts, stop = info
            append(Token(term, surface, start, end, position, norm, why, True, stop))
            for p_start, p_end, p_term, p_norm, p_why in parts:
                piece = surface[p_start:p_end]
                at, to = start + p_start, start + p_end
                append(Token(p_term, piece, at, to, position, p_norm, p_why, False, stop))
        return out

    def spans(self, text: str) -> list[tuple[int, int, str, str, int, bool]]:
        """``(start, end, term, norm, position, primary)`` of every indexed token:
        what ``tokens`` says, without Token objects (snippets scan many passages)."""
        out: list[tuple[int, int, str, str, int, bool]] = []
        append = out.append
        bounds, infos = self._walk(text)
        for position, info in enumerate(infos):
            if info is None:
                continue
            start, end = bounds[2 * position], bounds[2 * position + 1]
            term, norm, _why, parts, _stop = info
            append((start, end, term, norm, position, True))
            for p_start, p_end, p_term, p_norm, _p_why in parts:
                append((start + p_start, start + p_end, p_term, p_norm, position, False))
        return out

    def index_text(self, text: str) -> AnalyzedText:
        """Analyze for indexing: positions per term and per normalized form, no Token
        objects (the hot path of bulk indexing)."""
        terms: defaultdict[str, list[int]] = defaultdict(list)
        norms: defaultdict[str, list[int]] = defaultdict(list)
        stops: defaultdict[str, list[int]] = defaultdict(list)
        words: list[str] = []
        bounds, infos = self._walk(text)
        for position, info in enumerate(infos):
            if info is None:
                surface = text[bounds[2 * position] : bounds[2 * position + 1]]
                stops[self.stop_form(surface)].append(position)
                continue
            term, norm, _why, parts, _stop = info
            terms[term].append(position)
            norms[norm or term].append(position)
            words.append(norm or term)
            if parts:
                for part in parts:
                    terms[part[2]].append(position)
                    norms[part[3] or part[2]].append(position)
        return AnalyzedText(text, dict(terms), dict(norms), len(words), dict(stops), words)

    def stop_form(self, surface: str) -> str:
        """A dropped stopword's normalized form (colloquial spellings mapped: ``gak`` is
        ``tidak``), as the index keeps its positions and phrases ask for it."""
        found = self._stop_forms.get(surface)
        if found is None:
            norm = normalize_text(surface)
            found = self.colloquial.get(norm, norm)
            if len(self._stop_forms) >= _CACHE_LIMIT:
                self._stop_forms = _older_half(self._stop_forms)
            self._stop_forms[surface] = found
        return found

    def analyze(self, text: str) -> list[Token]:
        """The tokens of ``text`` without dropped stopwords (positions still count
        them); in ``stopword_mode="query"`` stopwords come with ``stopword=True``."""
        if not isinstance(text, str):
            raise TypeError(f"analyze() takes a str, not {type(text).__name__}")
        return self.tokens(text)

    def explain(self, text: str) -> list[Token]:
        """Every token of ``text``, stopwords included, with the rule that made its term."""
        return self.tokens(text, keep_stopwords=True)

    def term(self, word: str) -> str | None:
        """The index term of one word, or None for a dropped stopword."""
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
            term, norm = (normalize_text(value),) * 2 if info is None else info[:2]
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


_default: Analyzer | None = None


def analyze(text: str) -> list[Token]:
    """Analyze ``text`` with the default Indonesian analyzer.

    Examples:
        >>> [(t.text, t.term) for t in analyze("Kedutaan membangun hubungan")]
        [('Kedutaan', 'duta'), ('membangun', 'bangun'), ('hubungan', 'hubung')]
    """
    global _default
    if _default is None:
        _default = Analyzer()
    return _default.analyze(text)


def _older_half(cache: dict[str, Any]) -> dict[str, Any]:
    """The first half of ``cache`` in insertion order (a new dict: the old one's
    table is freed with it)."""
    return dict(islice(cache.items(), len(cache) // 2))
