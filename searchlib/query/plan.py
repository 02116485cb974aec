"""Compiling a parsed query into a plan: analyzed once, fields resolved, expansions and
filters folded in.

The parser (``query.parse``) knows only syntax. ``compile_query`` turns its tree into
plan nodes that name exactly the index terms to score: each word is analyzed once with
the index's analyzer, and each of its tokens becomes a ``CombinedTerm`` (BM25F over
the stemmed fields and their exact twins, each a weighted ``TermRef``); a query's
indexed stopwords are dropped when it has other words; prefixes and fuzzy words are
expanded against the snapshot's vocabulary,
``category:``/``source:``/``id:``/``published:`` clauses and the ``filters``/``since``/
``until`` given to ``Index.search`` become the same ``Filter`` nodes. Runs of query
words a synonym rule names (``SynonymTable``) become one clause, ``AnyOfPlan``: the
words as typed or what the rule searches them as (one-word synonyms merged into one
``CombinedTerm``, Lucene's ``SynonymQuery``; several words as a phrase). The plan also
records what snippets highlight (``Highlight``) and the plain words a "did you mean"
may correct, so nothing downstream analyzes the query again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from searchlib.analysis import Analyzer, Token
from searchlib.analysis.synonyms import SynonymTable
from searchlib.engine import EXACT
from searchlib.query.parse import (
    MUST,
    MUST_NOT,
    Bool,
    DateRange,
    Fuzzy,
    Keyword,
    Node,
    Phrase,
    Prefix,
    Word,
)
from searchlib.query.ranking import Ranking
from searchlib.query.synonym_spans import SynonymSpan, synonym_spans

__all__ = [
    "MAX_EXPANSIONS",
    "AnyOfPlan",
    "BoolPlan",
    "CombinedTerm",
    "Filter",
    "Highlight",
    "PhrasePlan",
    "Plan",
    "PlanNode",
    "TermRef",
    "TermsPlan",
    "Vocabulary",
    "compile_query",
    "is_number_or_code",
]

MAX_EXPANSIONS = 64  # terms a prefix or fuzzy clause expands to, most frequent first


@dataclass(frozen=True)
class TermRef:
    """One index term in one field (a stemmed field or its exact twin): its frequency
    counts ``weight`` times in the combined field it belongs to."""

    field: str
    term: str
    weight: float


@dataclass(frozen=True)
class CombinedTerm:
    """One query term scored as one BM25F field (Lucene's ``CombinedFieldQuery``):
    the weighted frequencies of ``refs`` add up, and so do the weighted lengths of
    ``lengths`` (stemmed field, weight); one saturation and one idf for the sum."""

    refs: tuple[TermRef, ...]
    lengths: tuple[tuple[str, float], ...]

    @property
    def term(self) -> str:
        return self.refs[0].term


@dataclass
class TermsPlan:
    """Matches documents holding any of ``terms``; scores the sum of their BM25F."""

    terms: list[CombinedTerm]


@dataclass
class PhrasePlan:
    """Stems at consecutive positions (``offsets`` from the first) in one of ``fields``
    (name, weight), and the phrase's dropped stopwords where it has them (``stops``:
    offset, normalized word); scores the sum of the stems' BM25F, each stem's frequency
    counted in the fields where the phrase occurs."""

    terms: list[str]
    offsets: list[int]
    fields: list[tuple[str, float]]
    stops: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Filter:
    """A restriction that never scores: ``kind`` is ``label`` (``field`` is category or
    source, ``values`` casefolded), ``id`` (``values``: one id) or ``date`` (``start``
    inclusive, ``end`` exclusive, seconds UTC)."""

    kind: str
    field: str = ""
    values: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None


@dataclass
class BoolPlan:
    """``must`` all match (else any of ``should``), none of ``must_not``, every filter."""

    must: list[PlanNode] = field(default_factory=list)
    should: list[PlanNode] = field(default_factory=list)
    must_not: list[PlanNode] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)


@dataclass
class AnyOfPlan:
    """One clause that matches any of ``alternatives`` and scores the best of them
    (a disjunction max: a synonym adds ways to match, never score)."""

    alternatives: list[PlanNode]


PlanNode = TermsPlan | PhrasePlan | BoolPlan | AnyOfPlan


@dataclass
class Highlight:
    """What a snippet marks: stems, exact forms and phrases (as stem sequences)."""

    terms: set[str] = field(default_factory=set)
    norms: set[str] = field(default_factory=set)
    phrases: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Plan:
    """A compiled query. ``root`` is None when nothing is left to match (stopwords
    only); ``words`` are the plain query words with their one normalized form, in
    query order, for suggestions."""

    root: BoolPlan | None
    highlight: Highlight
    words: list[tuple[Word, str]]
    # The query words synonyms expanded -> what they were searched as, for explain.
    synonyms: dict[str, list[str]] = field(default_factory=dict)


class Vocabulary(Protocol):
    """Where prefixes and fuzzy words find their terms: a snapshot, or a cluster's
    shards summed (the same expansions as one index holding every article)."""

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]: ...

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]: ...


def compile_query(
    tree: Bool,
    vocabulary: Vocabulary,
    analyzer: Analyzer,
    ranking: Ranking,
    filters: Iterable[Filter] = (),
    synonyms: SynonymTable | None = None,
    *,
    every_expansion: bool = False,
) -> Plan:
    """The plan of a parsed query; ``filters`` (from the API) apply to every match;
    ``synonyms`` expand the words they name. ``every_expansion``: prefix and fuzzy
    clauses take every term the vocabulary offers, not the ``MAX_EXPANSIONS`` most
    frequent (a shard preparing the statistics of whatever a cluster may choose)."""
    compiler = _Compiler(vocabulary, analyzer, ranking, synonyms)
    if every_expansion:
        compiler.max_expansions = None
    compiler.content = compiler.has_content(tree)
    root = compiler.clauses(tree)
    if root is not None:
        root.filters.extend(filters)
    return Plan(root, compiler.highlight, compiler.words, compiler.expanded)


def is_number_or_code(word: str) -> bool:
    """A number (``2024``, ``1.500``) or a code (``b-1234``, ``a320``, ``covid19``):
    a word with a digit and either two digits or at most three letters. Typo tolerance
    never changes one (Meilisearch's ``disableOnNumbers``); ``evakuas1`` is a typo."""
    digits = sum(c.isdigit() for c in word)
    letters = sum(c.isalpha() for c in word)
    return digits > 0 and (digits >= 2 or letters <= 3)


class _Compiler:
    def __init__(
        self,
        vocabulary: Vocabulary,
        analyzer: Analyzer,
        ranking: Ranking,
        synonyms: SynonymTable | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.analyzer = analyzer
        self.ranking = ranking
        self.synonyms = synonyms if synonyms else None
        self.max_expansions: int | None = MAX_EXPANSIONS  # terms per clause; None: all
        self.expanded: dict[str, list[str]] = {}
        self.highlight = Highlight()
        self.words: list[tuple[Word, str]] = []
        self._negated = 0  # inside a MUST_NOT: nothing is highlighted or suggested
        self._analyses: dict[str, list[Token]] = {}  # each query text analyzed once
        # Whether the query has a word that is not a stopword: then its stopwords
        # (indexed with stopword_mode="query") are dropped, else they are searched.
        self.content = True

    def _analyzed(self, text: str) -> list[Token]:
        found = self._analyses.get(text)
        if found is None:
            found = self._analyses[text] = self.analyzer.analyze(text)
        return found

    def has_content(self, node: Bool) -> bool:
        """Whether a clause that is not negated holds a word that is not a stopword."""
        for occur, child in node.clauses:
            if occur == MUST_NOT:
                continue
            if isinstance(child, Bool):
                if self.has_content(child):
                    return True
            elif isinstance(child, (Prefix, Fuzzy)) or (
                isinstance(child, (Word, Phrase))
                and any(not t.stopword for t in self._analyzed(child.text))
            ):
                return True
        return False

    def _fields(self, restrict: str | None) -> list[tuple[str, float]]:
        """The fields a word is searched in, with their BM25F weights: relative, the
        lightest counting 1 (so a one-field plan is exactly that field's BM25)."""
        if restrict is not None:
            return [(restrict, 1.0)]
        chosen = [(name, w) for name, w in self.ranking.field_boosts.items() if w > 0]
        lightest = min((w for _name, w in chosen), default=1.0)
        return [(name, w / lightest) for name, w in chosen]

    def _combined(self, token: Token, fields: list[tuple[str, float]]) -> CombinedTerm:
        exact = self.ranking.exact_boost
        refs = []
        for name, weight in fields:
            refs.append(TermRef(name, token.term, weight))
            if exact > 0 and token.norm:
                refs.append(TermRef(EXACT[name], token.norm, weight * exact))
        return CombinedTerm(tuple(refs), tuple(fields))

    def _terms(self, tokens: list[Token], restrict: str | None) -> list[CombinedTerm]:
        fields = self._fields(restrict)
        if not self._negated:
            for token in tokens:
                self.highlight.terms.add(token.term)
                if token.norm:
                    self.highlight.norms.add(token.norm)
        return [self._combined(token, fields) for token in tokens]

    def node(self, node: Node | SynonymSpan) -> PlanNode | Filter | None:
        if isinstance(node, SynonymSpan):
            return self._synonym_span(node)
        if isinstance(node, Bool):
            return self.clauses(node)
        if isinstance(node, Word):
            return self._word(node)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, (Prefix, Fuzzy)):
            return self._expansion(node)
        if isinstance(node, Keyword):
            if node.field == "id":
                return Filter("id", "id", (node.value,))
            return Filter("label", node.field, (node.value.strip().casefold(),))
        if isinstance(node, DateRange):
            return Filter("date", "published", start=node.start, end=node.end)
        raise TypeError(f"unknown query node {node!r}")  # pragma: no cover

    def clauses(self, node: Bool) -> BoolPlan | None:
        plan = BoolPlan()
        clauses: list[tuple[str, Node | SynonymSpan]] = list(node.clauses)
        if self.synonyms is not None:
            clauses = synonym_spans(node.clauses, self.synonyms, self._analyzed)
        for occur, child in clauses:
            if occur == MUST_NOT:
                self._negated += 1
                compiled = self.node(child)
                self._negated -= 1
            else:
                compiled = self.node(child)
            if compiled is None:
                continue
            if isinstance(compiled, Filter):
                if occur == MUST_NOT:
                    plan.must_not.append(BoolPlan(filters=[compiled]))
                else:  # restricts the matches, never satisfies a clause
                    plan.filters.append(compiled)
                continue
            {MUST: plan.must, MUST_NOT: plan.must_not}.get(occur, plan.should).append(compiled)
        if not (plan.must or plan.should or plan.must_not or plan.filters):
            return None
        return plan

    def _word(self, node: Word, *, suggestible: bool = True) -> TermsPlan | None:
        tokens = self._analyzed(node.text)
        if self.content:
            tokens = [t for t in tokens if not t.stopword]
        if not tokens:
            return None
        primary = [t for t in tokens if t.primary]
        if suggestible and not self._negated and len(primary) == 1:
            self.words.append((node, primary[0].norm))
        return TermsPlan(self._terms(tokens, node.field))

    def _phrase(self, node: Phrase, *, expand: bool = True) -> PlanNode | None:
        every = self.analyzer.tokens(node.text, keep_stopwords=True)
        tokens = [t for t in every if t.primary and t.why != "stopword"]
        if not tokens:
            return None
        if expand and self.synonyms is not None:  # a quoted entry: "komisi ... korupsi"
            found = self.synonyms.match([t.norm for t in tokens], 0)
            if found is not None and found[0] == len(tokens):
                words = (Word(node.text, node.field, node.position),)
                span = SynonymSpan(words, tuple(found[1]), node.field, quoted=True)
                return self._synonym_span(span)
        first = tokens[0].position
        # "menteri dalam negeri": the dropped stopword must be there too.
        stops = [(t.position - first, t.norm) for t in every if t.why == "stopword"]
        if len(tokens) == 1 and not stops:
            return self._word(Word(node.text, node.field, node.position), suggestible=False)
        if not self._negated:
            self.highlight.phrases.append(tuple(t.term for t in tokens))
        offsets = [t.position - first for t in tokens]
        return PhrasePlan([t.term for t in tokens], offsets, self._fields(node.field), stops)

    def _expansion(self, node: Prefix | Fuzzy) -> PlanNode | None:
        word = self.analyzer.normalize(node.text)  # the chain's own normalization
        if not word:
            return None
        if isinstance(node, Fuzzy) and is_number_or_code(word):
            # 2024~ must not find 2025 or 2014: numbers and codes match as they are.
            return self._word(Word(node.text, node.field, node.position), suggestible=False)
        # Expand over the stems (bangun* finds membangun) and the exact forms.
        found: dict[tuple[str, str], Token] = {}
        limit = sys.maxsize if self.max_expansions is None else self.max_expansions
        for name, _boost in self._fields(node.field):
            for index_field, is_exact in ((name, False), (EXACT[name], True)):
                if isinstance(node, Prefix):
                    texts = self.vocabulary.expand_prefix(index_field, word, limit)
                else:
                    texts = self.vocabulary.terms_within(index_field, word, node.distance, limit)
                for text in texts:
                    term = (self.analyzer.term(text) or text) if is_exact else text
                    norm = text if is_exact else ""
                    found.setdefault((term, norm), Token(term, text, 0, 0, 0, norm, "expansion"))
        chosen = list(found.values())
        if self.max_expansions is not None:
            chosen = chosen[: 2 * self.max_expansions]
        return TermsPlan(self._terms(chosen, node.field))

    # -- synonyms ------------------------------------------------------------------------

    def _synonym_span(self, span: SynonymSpan) -> PlanNode | None:
        """The words as typed, or any entry the rule searches them as: one clause."""
        table = self.synonyms
        if table is None:  # pragma: no cover - spans come from the table
            return None
        typed = table.words(" ".join(w.text for w in span.words))
        others = [e for e in span.outputs if table.words(e) != typed]
        if not self._negated:
            self.expanded[" ".join(w.text for w in span.words)] = list(span.outputs)
        original: PlanNode | None
        if span.quoted:
            word = span.words[0]
            original = self._phrase(Phrase(word.text, word.field, word.position), expand=False)
        elif len(span.words) == 1:
            original = self._word(span.words[0])
        else:
            typed_plans: list[PlanNode] = [p for p in map(self._word, span.words) if p]
            original = (
                BoolPlan(must=typed_plans) if span.every_word else BoolPlan(should=typed_plans)
            )
        alternatives: list[PlanNode] = [original] if original is not None else []
        singles: list[Token] = []
        for entry in others:
            if len(table.words(entry)) == 1:
                singles.extend(t for t in self._analyzed(entry) if t.primary)
            else:
                compiled = self._phrase(Phrase(entry, span.field, 0), expand=False)
                if compiled is not None:
                    alternatives.append(compiled)
        if singles:
            extra = self._terms(singles, span.field)
            if isinstance(original, TermsPlan) and len(original.terms) == 1:
                # One term over every form: frequencies summed, one idf.
                refs = list(original.terms[0].refs)
                refs.extend(r for t in extra for r in t.refs if r not in refs)
                merged = CombinedTerm(tuple(refs), original.terms[0].lengths)
                alternatives[0] = TermsPlan([merged])
            else:
                alternatives.extend(TermsPlan([t]) for t in extra)
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else AnyOfPlan(alternatives)
