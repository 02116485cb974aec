"""Execution of a parsed query over a snapshot: boolean matching and BM25 over arrays.

Every node evaluates to dense arrays over the snapshot's document numbers: a match mask,
a score and (for the top level) how many clauses matched. Term scoring works on whole
posting arrays with numpy (``ranking.bm25_term_scores``), never one posting at a time.
What the snippets need (terms, exact forms, phrases) and, on request, each term's score
contribution are collected on the way.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np

from searchlib.analysis import Analyzer, Token
from searchlib.engine import EXACT, MISSING_DATE, Snapshot
from searchlib.query import (
    MUST,
    MUST_NOT,
    SHOULD,
    Bool,
    DateRange,
    Fuzzy,
    Keyword,
    Node,
    Phrase,
    Prefix,
    Word,
)
from searchlib.ranking import Ranking, bm25_idf, bm25_term_scores

__all__ = ["Contribution", "Evaluation", "Executor", "HighlightSpec"]

MAX_EXPANSIONS = 64  # terms a prefix or fuzzy clause expands to, most frequent first


@dataclass
class HighlightSpec:
    """What a snippet should mark: stems, exact forms and phrases (as stem sequences)."""

    terms: set[str] = field(default_factory=set)
    norms: set[str] = field(default_factory=set)
    phrases: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Contribution:
    """One term's BM25 in one field, for ``explain``."""

    field: str
    term: str
    boost: float
    idf: float
    doc_freq: int
    doc_count: int
    avg_length: float
    ids: np.ndarray
    tf: np.ndarray
    scores: np.ndarray


@dataclass
class Evaluation:
    mask: np.ndarray
    score: np.ndarray
    matched: np.ndarray  # clauses matched per document (top level only)


class Executor:
    """Evaluates query trees against one snapshot with one ranking."""

    def __init__(
        self, snapshot: Snapshot, analyzer: Analyzer, ranking: Ranking, explain: bool = False
    ) -> None:
        self.snap = snapshot
        self.analyzer = analyzer
        self.ranking = ranking
        self.size = snapshot.max_doc
        self.highlight = HighlightSpec()
        self.contributions: list[Contribution] | None = [] if explain else None
        self._idf_cache: dict[tuple[str, str], tuple[float, int]] = {}

    # -- arrays --------------------------------------------------------------------

    def _empty(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.size, dtype=bool), np.zeros(self.size, dtype=np.float64)

    def _fields(self, restrict: str | None) -> list[tuple[str, float]]:
        boosts = self.ranking.field_boosts
        if restrict is not None:
            return [(restrict, boosts.get(restrict, 1.0) or 1.0)]
        return [(name, boost) for name, boost in boosts.items() if boost > 0]

    def _score_term(
        self,
        index_field: str,
        length_field: str,
        term: str,
        boost: float,
        mask: np.ndarray,
        score: np.ndarray,
    ) -> None:
        """Add ``boost`` x BM25 of ``term`` in ``index_field`` into ``score``; mark ``mask``."""
        ids, tf = self.snap.postings(index_field, term)
        if not len(ids):
            return
        live = self.snap.live[ids]
        if not live.all():
            ids, tf = ids[live], tf[live]
            if not len(ids):
                return
        doc_count = self.snap.field_docs[length_field]
        idf = bm25_idf(doc_count, len(ids))
        avg = self.snap.avg_length[length_field]
        contribution = boost * bm25_term_scores(
            tf, self.snap.lengths[length_field][ids], avg, idf, self.ranking.k1, self.ranking.b
        )
        score[ids] += contribution  # posting lists hold each document once
        mask[ids] = True
        if self.contributions is not None:
            self.contributions.append(
                Contribution(
                    index_field, term, boost, idf, len(ids), doc_count, avg, ids, tf, contribution
                )
            )

    def _score_group(
        self, tokens: list[Token], restrict: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score a group of alternative tokens (a word and its compound parts)."""
        mask, score = self._empty()
        exact_boost = self.ranking.exact_boost
        for token in tokens:
            self.highlight.terms.add(token.term)
            if token.norm:
                self.highlight.norms.add(token.norm)
            for name, boost in self._fields(restrict):
                self._score_term(name, name, token.term, boost, mask, score)
                if exact_boost > 0 and token.norm:
                    exact_mask = np.zeros(self.size, dtype=bool)
                    self._score_term(
                        EXACT[name], name, token.norm, boost * exact_boost, exact_mask, score
                    )
        return mask, score

    # -- nodes ---------------------------------------------------------------------

    def evaluate(self, node: Node) -> Evaluation | None:
        """Evaluate a node; None when it has nothing to match (stopwords only)."""
        if isinstance(node, Bool):
            return self._bool(node)
        if isinstance(node, Word):
            result = self._word(node)
        elif isinstance(node, Phrase):
            result = self._phrase(node)
        elif isinstance(node, (Prefix, Fuzzy)):
            result = self._expansion(node)
        elif isinstance(node, Keyword):
            result = self._keyword(node)
        elif isinstance(node, DateRange):
            result = self._date_range(node)
        else:  # pragma: no cover - the parser makes no other nodes
            raise TypeError(f"unknown query node {node!r}")
        if result is None:
            return None
        mask, score = result
        return Evaluation(mask, score, mask.astype(np.int32))

    def _bool(self, node: Bool) -> Evaluation | None:
        must, should, must_not, filters = [], [], [], []
        for occur, child in node.clauses:
            if occur == MUST_NOT:
                saved = self.highlight
                self.highlight = HighlightSpec()  # excluded words are never highlighted
                result = self.evaluate(child)
                self.highlight = saved
            else:
                result = self.evaluate(child)
            if result is None:
                continue
            if occur != MUST_NOT and isinstance(child, (Keyword, DateRange)):
                filters.append(result)  # restricts the matches, never satisfies a clause
                continue
            {MUST: must, SHOULD: should, MUST_NOT: must_not}[occur].append(result)
        if not (must or should or must_not or filters):
            return None
        if must:
            mask = np.logical_and.reduce([r.mask for r in must])
        elif should:
            mask = np.logical_or.reduce([r.mask for r in should])
        else:
            mask = self.snap.live.copy()  # only filters or exclusions: all else matches
        for result in filters:
            mask &= result.mask
        for result in must_not:
            mask &= ~result.mask
        score = np.zeros(self.size, dtype=np.float64)
        matched = np.zeros(self.size, dtype=np.int32)
        for result in (*must, *should):
            score += result.score
            matched += result.mask
        score[~mask] = 0.0
        return Evaluation(mask, score, matched)

    def _word(self, node: Word) -> tuple[np.ndarray, np.ndarray] | None:
        tokens = self.analyzer.analyze(node.text)
        if not tokens:
            return None
        mask, score = self._empty()
        for group in _by_position(tokens):
            group_mask, group_score = self._score_group(group, node.field)
            mask |= group_mask
            score += group_score
        return mask, score

    def _phrase(self, node: Phrase) -> tuple[np.ndarray, np.ndarray] | None:
        tokens = [t for t in self.analyzer.analyze(node.text) if t.primary]
        if not tokens:
            return None
        if len(tokens) == 1:
            return self._word(Word(node.text, node.field, node.position))
        self.highlight.phrases.append(tuple(t.term for t in tokens))
        mask, score = self._empty()
        offsets = [t.position - tokens[0].position for t in tokens]
        for name, boost in self._fields(node.field):
            candidates = None
            for token in tokens:
                ids, _ = self.snap.postings(name, token.term)
                candidates = ids if candidates is None else np.intersect1d(candidates, ids)
            candidates = candidates[self.snap.live[candidates]] if len(candidates) else candidates
            if not len(candidates):
                continue
            positions = [self.snap.positions(name, t.term, candidates) for t in tokens]
            matched = [doc for doc in candidates.tolist() if _phrase_at(doc, positions, offsets)]
            if not matched:
                continue
            field_mask, field_score = self._empty()
            for token in tokens:
                self._score_term(name, name, token.term, boost, field_mask, field_score)
            hits = np.zeros(self.size, dtype=bool)
            hits[matched] = True
            mask |= hits
            score += np.where(hits, field_score, 0.0)
        return mask, score

    def _expansion(self, node: Prefix | Fuzzy) -> tuple[np.ndarray, np.ndarray] | None:
        word = unicodedata.normalize("NFKC", node.text).casefold()
        if not word:
            return None
        # Expand over the stems (bangun* finds membangun) and the exact forms.
        tokens: dict[tuple[str, str], Token] = {}
        for name, _boost in self._fields(node.field):
            for index_field, is_exact in ((name, False), (EXACT[name], True)):
                if isinstance(node, Prefix):
                    found = self.snap.expand_prefix(index_field, word, MAX_EXPANSIONS)
                else:
                    found = self.snap.terms_within(index_field, word, node.distance, MAX_EXPANSIONS)
                for text in found:
                    term = (self.analyzer.term(text) or text) if is_exact else text
                    norm = text if is_exact else ""
                    tokens.setdefault((term, norm), Token(term, text, 0, 0, 0, norm, "expansion"))
        mask, score = self._empty()
        for token in list(tokens.values())[: 2 * MAX_EXPANSIONS]:
            group_mask, group_score = self._score_group([token], node.field)
            mask |= group_mask
            score += group_score
        return mask, score

    def _keyword(self, node: Keyword) -> tuple[np.ndarray, np.ndarray]:
        mask, score = self._empty()
        if node.field == "id":
            docnum = self.snap.docnum_of(node.value)
            if docnum is not None and self.snap.live[docnum]:
                mask[docnum] = True
            return mask, score
        wanted = node.value.strip().casefold()
        values = self.snap.category_values if node.field == "category" else self.snap.source_values
        codes = [code for code, value in enumerate(values) if value.casefold() == wanted]
        column = self.snap.category if node.field == "category" else self.snap.source
        if codes:
            mask = np.isin(column, codes) & self.snap.live
        return mask, score

    def _date_range(self, node: DateRange) -> tuple[np.ndarray, np.ndarray]:
        published = self.snap.published
        mask = self.snap.live & (published != MISSING_DATE)
        if node.start is not None:
            mask &= published >= node.start
        if node.end is not None:
            mask &= published < node.end
        return mask, np.zeros(self.size, dtype=np.float64)


def _by_position(tokens: list[Token]) -> list[list[Token]]:
    groups: dict[int, list[Token]] = {}
    for token in tokens:
        groups.setdefault(token.position, []).append(token)
    return list(groups.values())


def _phrase_at(doc: int, positions: list[dict[int, list[int]]], offsets: list[int]) -> bool:
    first = positions[0].get(doc)
    if not first:
        return False
    others = [set(p.get(doc, ())) for p in positions[1:]]
    return any(
        all(start + offset in other for offset, other in zip(offsets[1:], others, strict=True))
        for start in first
    )
