"""Running a search: parse, compile, execute, then build the page's hits and snippets.

Ranking order: with ``Ranking.coordination`` documents that match more of the query's
clauses come first, then higher BM25, then index order; ``sort="newest"``/``"oldest"``
order by publication date (undated last), then by score. Snippets are built only for
the hits of the page, from stored text, with the terms the plan names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from time import perf_counter

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import SynonymTable
from searchlib.document import public_fields
from searchlib.engine import TEXT_FIELDS, Snapshot
from searchlib.errors import QueryError
from searchlib.query.collapse import (
    MAX_COLLAPSE_WINDOW,
    Group,
    collapse_window,
    duplicates_of,
    group_copies,
)
from searchlib.query.collectors import NOTHING_MORE, Collectors, facet_counts
from searchlib.query.execute import Execution, execute
from searchlib.query.parse import SHOULD, Bool, Word, parse_query
from searchlib.query.plan import BoolPlan, Filter, Highlight, compile_query
from searchlib.query.ranking import Ranking, bm25_idf
from searchlib.query.results import Hit, Results
from searchlib.query.snippets import highlight_title, make_snippet
from searchlib.query.suggest import suggest

__all__ = [
    "filter_plan",
    "run_search",
    "run_similar",
    "similar_counts",
    "similar_query",
    "similar_terms",
]

SIMILAR_TERMS = 25


def _hits(
    snapshot: Snapshot,
    analyzer: Analyzer,
    execution: Execution,
    offset: int,
    highlight: Highlight | None,
    snippet_size: int,
    explain: bool,
    groups: list[Group] | None = None,
) -> list[Hit]:
    """The page's hits from ``offset`` on: the execution's top documents, or with
    ``groups`` (a collapsed search) each group's leader with its copies."""
    hits = []
    rows = list(range(offset, len(execution.top)))
    if groups is not None:
        rows = [group.leader for group in groups[offset:]]
    docs = execution.top[rows].tolist()
    scores = execution.top_scores[rows].tolist()
    for rank, (docnum, score) in enumerate(zip(docs, scores, strict=True), start=offset + 1):
        fields = public_fields(snapshot.stored(docnum))
        snippet = title = None
        if highlight is not None:
            snippet = make_snippet(fields, analyzer, highlight, size=snippet_size)
            title = highlight_title(fields["title"], analyzer, highlight)
        explanation = execution.explain(docnum) if explain else None
        recency = execution.recency_factor(docnum)
        hit = Hit(fields["id"], rank, score, fields, snippet, explanation, title, recency)
        if groups is not None:
            copies = groups[rank - 1].copies
            hit.duplicates = duplicates_of(snapshot, execution.top, copies)
        hits.append(hit)
    return hits


def _collapsed(
    plan_root: BoolPlan,
    snapshot: Snapshot,
    ranking: Ranking,
    wanted: int,
    sort: str,
    track_total: int | None,
    at_least: int,
) -> tuple[Execution, list[Group]]:
    """An execution ranking enough candidates for ``wanted`` groups of copies (or all
    the matches), and its candidates grouped."""
    window = collapse_window(wanted)
    while True:
        execution = execute(plan_root, snapshot, ranking, window, sort, track_total=track_total)
        groups = group_copies(snapshot.signatures(execution.top), at_least)
        if len(groups) >= wanted or len(execution.top) < window or window >= MAX_COLLAPSE_WINDOW:
            return execution, groups[:wanted]
        window = min(MAX_COLLAPSE_WINDOW, window * 4)


def filter_plan(
    filters: Mapping[str, list[str]], bounds: tuple[int | None, int | None]
) -> list[Filter]:
    """The filters given to ``Index.search``, as plan filters."""
    out = [
        Filter("label", name, tuple(v.strip().casefold() for v in values))
        for name, values in filters.items()
    ]
    low, high = bounds
    if low is not None or high is not None:
        out.append(Filter("date", "published", start=low, end=high))
    return out


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
    collectors: Collectors = NOTHING_MORE,
    synonyms: SynonymTable | None = None,
    collapse: int | None = None,
) -> Results:
    """``collapse``: the signature bytes copies share (``collapse.collapse_bytes``),
    None to keep every copy."""
    tree = parse_query(query)
    plan = compile_query(tree, snapshot, analyzer, ranking, filter_plan(filters, bounds), synonyms)
    if plan.root is None:
        return Results(query, [], 0, (perf_counter() - started) * 1000, {}, None, offset, limit)
    groups = None
    if collapse is None:
        execution = execute(
            plan.root, snapshot, ranking, offset + limit, sort, track_total=collectors.count_up_to
        )
    else:
        execution, groups = _collapsed(
            plan.root, snapshot, ranking, offset + limit, sort, collectors.count_up_to, collapse
        )
    hits = _hits(
        snapshot,
        analyzer,
        execution,
        offset,
        plan.highlight if snippets else None,
        snippet_size,
        explain,
        groups,
    )
    suggestion = None
    if collectors.suggest and snapshot.doc_count:
        suggestion = suggest(snapshot, plan, query, found_nothing=not execution.total)
    facets = (
        facet_counts(snapshot, execution.matches, collectors.facets) if collectors.facets else {}
    )
    took = (perf_counter() - started) * 1000
    results = Results(query, hits, execution.total, took, facets, suggestion, offset, limit)
    results.total_relation = execution.relation
    results.scored = execution.scored
    results.synonyms = plan.synonyms
    return results


def similar_counts(snapshot: Snapshot, analyzer: Analyzer, docnum: int) -> Counter[str]:
    """The article's telling terms (title and body, at least 3 characters with a
    letter) with their frequencies: what more-like-this chooses from."""
    fields = public_fields(snapshot.stored(docnum))
    counts: Counter[str] = Counter()
    for name in TEXT_FIELDS:
        counts.update(
            t.term
            for t in analyzer.analyze(fields[name][:100_000])
            if t.primary and not t.stopword and len(t.term) >= 3
            and any(c.isalpha() for c in t.term)
        )  # fmt: skip
    return counts


def similar_terms(
    counts: Mapping[str, int], doc_freq: Mapping[str, int], doc_count: int
) -> list[str]:
    """The ``SIMILAR_TERMS`` terms with the highest tf x idf (``doc_freq``: live body
    document frequencies; a term only this article has is no similarity)."""
    weights = {
        term: tf * bm25_idf(doc_count or 1, doc_freq.get(term, 0))
        for term, tf in counts.items()
        if doc_freq.get(term, 0) >= 2
    }
    return sorted(weights, key=lambda t: (-weights[t], t))[:SIMILAR_TERMS]


def similar_query(terms: list[str]) -> Bool:
    return Bool([(SHOULD, Word(term)) for term in terms])


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
    counts = similar_counts(snapshot, analyzer, docnum)
    doc_freq = {term: snapshot.document_frequency("body", term) for term in counts}
    chosen = similar_terms(counts, doc_freq, snapshot.field_docs["body"])
    plan = compile_query(similar_query(chosen), snapshot, analyzer, ranking)
    if plan.root is None:
        return Results(
            f"similar:{doc_id}", [], 0, (perf_counter() - started) * 1000, {}, None, 0, limit
        )
    # More-like-this ranks by score alone.
    execution = execute(
        plan.root, snapshot, replace(ranking, coordination=False), limit, exclude=docnum
    )
    hits = _hits(snapshot, analyzer, execution, 0, None, 160, False)
    took = (perf_counter() - started) * 1000
    results = Results(f"similar:{doc_id}", hits, len(execution.matches), took, {}, None, 0, limit)
    results.scored = execution.scored
    return results
