"""Running a search: parse, execute, filter, rank, page, then build hits and snippets.

Ranking order: with ``Ranking.coordination`` documents that match more of the query's
clauses come first, then higher BM25, then index order; ``sort="newest"``/``"oldest"``
order by publication date (undated last), then by score. Snippets are built only for
the hits of the page, from stored text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from time import perf_counter

import numpy as np

from searchlib.analysis import Analyzer
from searchlib.document import public_fields
from searchlib.engine import MISSING_DATE, TEXT_FIELDS, Snapshot
from searchlib.errors import QueryError
from searchlib.execute import Executor, HighlightSpec
from searchlib.query import SHOULD, Bool, Word, parse_query
from searchlib.ranking import Ranking, bm25_idf
from searchlib.results import Hit, Results, TermScore
from searchlib.snippets import make_snippet
from searchlib.suggest import suggest

__all__ = ["run_search", "run_similar"]

FACET_LIMIT = 20
SIMILAR_TERMS = 25


def _facets(snapshot: Snapshot, mask: np.ndarray) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, codes, values in (
        ("category", snapshot.category, snapshot.category_values),
        ("source", snapshot.source, snapshot.source_values),
    ):
        chosen = codes[mask]
        counts = np.bincount(chosen[chosen >= 0], minlength=len(values))
        present = [(-int(counts[i]), values[i]) for i in np.flatnonzero(counts).tolist()]
        out[name] = {value: -negative for negative, value in sorted(present)[:FACET_LIMIT]}
    return out


def _order(
    docs: np.ndarray,
    score: np.ndarray,
    matched: np.ndarray,
    sort: str,
    coordination: bool,
    published: np.ndarray,
    wanted: int,
) -> np.ndarray:
    """The first ``wanted`` of ``docs`` in result order (exact, ties by docnum)."""
    if not len(docs) or wanted <= 0:
        return docs[:0]
    scores = score[docs]
    if sort == "relevance":
        primary = matched[docs].astype(np.float64) if coordination else np.zeros(len(docs))
    else:
        dates = published[docs].astype(np.float64)
        undated = dates == MISSING_DATE
        primary = dates if sort == "newest" else -dates
        primary[undated] = -np.inf
    if wanted < len(docs):
        # Keep everything tied with the wanted-th key, so the exact sort below is exact.
        span = float(np.nanmax(np.abs(scores))) + 1.0
        key = np.where(np.isfinite(primary), primary, -1e300) * span * 4 + scores
        threshold = np.partition(key, len(key) - wanted)[len(key) - wanted]
        keep = key >= threshold
        docs, scores, primary = docs[keep], scores[keep], primary[keep]
    order = np.lexsort((docs, -scores, -primary))
    return docs[order][:wanted]


def _explain(executor: Executor, snapshot: Snapshot, docnum: int) -> list[TermScore]:
    terms: list[TermScore] = []
    for part in executor.contributions or []:
        index = np.searchsorted(part.ids, docnum)
        if index < len(part.ids) and part.ids[index] == docnum:
            length_field = part.field.removesuffix("_exact")
            terms.append(
                TermScore(
                    field=part.field,
                    term=part.term,
                    tf=float(part.tf[index]),
                    doc_freq=part.doc_freq,
                    doc_count=part.doc_count,
                    idf=part.idf,
                    length=float(snapshot.lengths[length_field][docnum]),
                    avg_length=part.avg_length,
                    boost=part.boost,
                    score=float(part.scores[index]),
                )
            )
    return terms


def _hits(
    snapshot: Snapshot,
    analyzer: Analyzer,
    docs: np.ndarray,
    score: np.ndarray,
    offset: int,
    spec: HighlightSpec | None,
    snippet_size: int,
    executor: Executor | None,
) -> list[Hit]:
    hits = []
    for rank, docnum in enumerate(docs.tolist(), start=offset + 1):
        fields = public_fields(snapshot.stored(docnum))
        snippet = None
        if spec is not None:
            snippet = make_snippet(fields, analyzer, spec, size=snippet_size)
        explanation = None
        if executor is not None and executor.contributions is not None:
            explanation = _explain(executor, snapshot, docnum)
        hits.append(Hit(fields["id"], rank, float(score[docnum]), fields, snippet, explanation))
    return hits


def run_search(
    snapshot: Snapshot,
    analyzer: Analyzer,
    query: str,
    *,
    limit: int,
    offset: int,
    filters: Mapping[str, list[str]],
    bounds: tuple[int | None, int | None],
    sort: str,
    ranking: Ranking,
    snippets: bool,
    explain: bool,
    snippet_size: int,
    started: float,
) -> Results:
    root = parse_query(query)
    executor = Executor(snapshot, analyzer, ranking, explain=explain)
    evaluation = executor.evaluate(root)
    if evaluation is None:
        return Results(query, [], 0, (perf_counter() - started) * 1000, {}, None, offset, limit)
    mask = evaluation.mask & snapshot.live
    for name, values in filters.items():
        codes_column = snapshot.category if name == "category" else snapshot.source
        names = snapshot.category_values if name == "category" else snapshot.source_values
        wanted = {v.strip().casefold() for v in values}
        codes = [i for i, v in enumerate(names) if v.casefold() in wanted]
        mask &= np.isin(codes_column, codes)
    low, high = bounds
    if low is not None or high is not None:
        dated = snapshot.published != MISSING_DATE
        if low is not None:
            dated &= snapshot.published >= low
        if high is not None:
            dated &= snapshot.published < high
        mask &= dated
    docs = np.flatnonzero(mask)
    ordered = _order(
        docs,
        evaluation.score,
        evaluation.matched,
        sort,
        ranking.coordination,
        snapshot.published,
        offset + limit,
    )[offset:]
    hits = _hits(
        snapshot,
        analyzer,
        ordered,
        evaluation.score,
        offset,
        executor.highlight if snippets else None,
        snippet_size,
        executor,
    )
    suggestion = suggest(snapshot, analyzer, root, query) if snapshot.doc_count else None
    took = (perf_counter() - started) * 1000
    return Results(query, hits, len(docs), took, _facets(snapshot, mask), suggestion, offset, limit)


def run_similar(
    snapshot: Snapshot,
    analyzer: Analyzer,
    doc_id: str,
    *,
    limit: int,
    ranking: Ranking,
    started: float,
) -> Results:
    docnum = snapshot.docnum_of(doc_id)
    if docnum is None or not snapshot.live[docnum]:
        raise QueryError(f"no article with id {doc_id!r}")
    fields = public_fields(snapshot.stored(docnum))
    counts: Counter[str] = Counter()
    for name in TEXT_FIELDS:
        counts.update(t.term for t in analyzer.analyze(fields[name][:100_000]) if t.primary)
    weights: dict[str, float] = {}
    for term, tf in counts.items():
        if len(term) < 3 or not any(c.isalpha() for c in term):
            continue
        doc_freq = snapshot.document_frequency("body", term)
        if doc_freq < 2:
            continue  # only this article has it: nothing to be similar on
        weights[term] = tf * bm25_idf(snapshot.field_docs["body"] or 1, doc_freq)
    chosen = sorted(weights, key=lambda t: (-weights[t], t))[:SIMILAR_TERMS]
    root = Bool([(SHOULD, Word(term)) for term in chosen])
    executor = Executor(snapshot, analyzer, ranking)
    evaluation = executor.evaluate(root) if chosen else None
    if evaluation is None:
        return Results(
            f"similar:{doc_id}", [], 0, (perf_counter() - started) * 1000, {}, None, 0, limit
        )
    mask = evaluation.mask & snapshot.live
    mask[docnum] = False
    docs = np.flatnonzero(mask)
    ordered = _order(
        docs, evaluation.score, evaluation.matched, "relevance", False, snapshot.published, limit
    )
    hits = _hits(snapshot, analyzer, ordered, evaluation.score, 0, None, 160, None)
    return Results(
        f"similar:{doc_id}",
        hits,
        len(docs),
        (perf_counter() - started) * 1000,
        _facets(snapshot, mask),
        None,
        0,
        limit,
    )
