"""The shard side of a distributed search: vocabulary, statistics, ranked keys, hits.

A sharded index compiles a query once, on the client, with the index's analyzer and
the shards' vocabularies summed (the expansions one index holding every article would
choose). Each shard answers from its own snapshot:

1. ``prepare``: in one step, its counts for every prefix and fuzzy expansion of the
   query and the local document frequencies of every term the query may come to
   score, whichever expansions the client chooses, with the fields' document counts
   and total lengths; the client sums them (``gather_statistics``) so every shard
   scores as one index holding all articles. (``prefix_counts`` and ``near_counts``,
   then ``statistics`` of the compiled plan, are the same in two steps: the client's
   way when an expansion has more candidates than one preparation carries.)
2. ``rank``: the first ``wanted`` matches as ``(primary, score, id)`` keys scored with
   those global statistics, the total and complete facet counts; the client merges;
3. ``hits``: the final page's hits (stored fields, snippets, explanations) from the
   shards that own them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import SynonymTable
from searchlib.document import public_fields
from searchlib.engine import TEXT_FIELDS, Snapshot
from searchlib.engine.snapshot import most_frequent, nearest
from searchlib.query.collapse import Duplicate, copies_like, source_and_date
from searchlib.query.collectors import facet_counts
from searchlib.query.complete import Completions, TitleCompletion, complete, complete_titles
from searchlib.query.execute import execute
from searchlib.query.parse import Bool
from searchlib.query.plan import (
    AnyOfPlan,
    BoolPlan,
    Filter,
    PhrasePlan,
    Plan,
    PlanNode,
    TermsPlan,
    compile_query,
)
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit
from searchlib.query.search import similar_counts
from searchlib.query.snippets import highlight_title, make_snippet
from searchlib.query.statistics import LocalStatistics, Statistics
from searchlib.query.suggest import Evidence, suggestion_evidence

__all__ = [
    "PREPARED_CANDIDATES",
    "SEARCH_STEPS",
    "ShardPreparation",
    "ShardRanking",
    "ShardSearcher",
    "ShardStatistics",
]

# Candidates of one expansion a preparation carries at most (a shard's most frequent):
# past it the client expands in steps of their own, as exactness needs.
PREPARED_CANDIDATES = 2_000

# What a client may ask a shard's searcher: a search's steps in the order they run,
# more-like-this's (the article's terms, then everyone's body document frequencies),
# and the vocabulary a client compiles against.
SEARCH_STEPS = (
    "prepare",
    "term_statistics",
    "statistics",
    "rank",
    "rank_page",
    "hits",
    "page",
    "similar_counts",
    "body_doc_freqs",
    "prefix_counts",
    "near_counts",
    "complete",
    "complete_titles",
    "signature_of",
    "copies_of",
)

# (doc_counts, total_lengths, doc_freqs): what ``gather_statistics`` sums.
ShardStatistics = tuple[dict[str, int], dict[str, float], dict[tuple[str, str], int]]


# An expansion asked of a vocabulary: ("prefix", field, prefix) with document counts,
# ("near", field, word, distance) with (document count, edits).
ExpansionKey = tuple[Any, ...]


@dataclass
class ShardPreparation:
    """One shard's answer to ``prepare``: its counts for each expansion the query asks
    for and the statistics of every term the query may score. ``complete`` is False
    when an expansion had more than ``PREPARED_CANDIDATES`` candidates here (the client
    then expands in steps: a term outside this shard's most frequent could still be
    among the cluster's)."""

    expansions: dict[ExpansionKey, dict[str, Any]]
    statistics: ShardStatistics
    complete: bool = True


class _RecordingVocabulary:
    """A shard's vocabulary offering every candidate of each expansion (its most
    frequent ``PREPARED_CANDIDATES``), and keeping the counts it offered."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.expansions: dict[ExpansionKey, dict[str, Any]] = {}
        self.complete = True

    def _kept(self, key: ExpansionKey, counts: dict[str, Any], order: list[str]) -> list[str]:
        if len(order) > PREPARED_CANDIDATES:
            self.complete = False
            order = order[:PREPARED_CANDIDATES]
            counts = {term: counts[term] for term in order}
        self.expansions[key] = counts
        return order

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        counts = self.snapshot.prefix_counts(field, prefix)
        order = most_frequent(counts, len(counts))
        return self._kept(("prefix", field, prefix), counts, order)[:limit]

    def terms_within(self, field: str, word: str, distance: int, limit: int) -> list[str]:
        counts = self.snapshot.near_counts(field, word, distance)
        order = nearest(counts, len(counts))
        return self._kept(("near", field, word, distance), counts, order)[:limit]


@dataclass
class ShardRanking:
    """One shard's answer to ``rank``: keys in result order, every match counted."""

    total: int
    keys: list[tuple[float, float, str]]  # (primary, score, id): coordination or date first
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # complete counts
    # What this shard knows for the suggestion (``suggest.suggestion_evidence``).
    evidence: Evidence | None = None
    scored: int = 0
    relation: str = "eq"  # "gte": total is a lower bound
    doc_count: int = 0  # live articles
    generation: int = 0  # the commit ranked: the fetch reads the same (point in time)
    # A collapsing search's: per key, what the client groups copies by and lists them
    # with (signature bytes, source, publication seconds or None).
    copies: list[tuple[bytes, str | None, int | None]] | None = None


def plan_terms(node: PlanNode) -> Iterator[tuple[str, str]]:
    """Every (field, term) a plan node may score."""
    if isinstance(node, TermsPlan):
        for combined in node.terms:
            for ref in combined.refs:
                yield ref.field, ref.term
    elif isinstance(node, PhrasePlan):
        for name, _weight in node.fields:
            for stem in node.terms:
                yield name, stem
    elif isinstance(node, BoolPlan):
        for child in (*node.must, *node.should, *node.must_not):
            yield from plan_terms(child)
    elif isinstance(node, AnyOfPlan):
        for child in node.alternatives:
            yield from plan_terms(child)


class ShardSearcher:
    """One snapshot of a shard, answering the steps of a distributed search."""

    def __init__(
        self, snapshot: Snapshot, analyzer: Analyzer, synonyms: SynonymTable | None = None
    ) -> None:
        self.snapshot = snapshot
        self.analyzer = analyzer
        self.synonyms = synonyms  # the snapshot's commit's, read by the analyzer

    def complete(self, text: str, limit: int, titles: int) -> Completions:
        """This shard's completions (``query.complete``); a client sums the shards'."""
        return complete(self.snapshot, self.analyzer, text, limit, titles)

    def complete_titles(self, text: str, word: str | None, limit: int) -> list[TitleCompletion]:
        return complete_titles(self.snapshot, self.analyzer, text, word, limit)

    def prefix_counts(self, field: str, prefix: str) -> dict[str, int]:
        return self.snapshot.prefix_counts(field, prefix)

    def near_counts(self, field: str, word: str, distance: int) -> dict[str, tuple[int, int]]:
        return self.snapshot.near_counts(field, word, distance)

    def prepare(
        self,
        tree: Bool,
        filters: list[Filter],
        ranking: Ranking,
        synonyms: bool,
    ) -> ShardPreparation:
        """The query's expansions here and the statistics of every term it may score
        (compiled with every candidate of each expansion, so whichever the client
        chooses from the shards' summed counts has its frequencies here).

        ``synonyms``: expanded with this shard's synonyms (every shard holds the same;
        the table is not sent with each query). Should a shard's differ from the
        client's for a moment (a ``set_synonyms`` under way), the client finds a
        plan's term missing here and asks for its statistics in another step."""
        vocabulary = _RecordingVocabulary(self.snapshot)
        table = self.synonyms if synonyms else None
        plan = compile_query(
            tree, vocabulary, self.analyzer, ranking, filters, table, every_expansion=True
        )
        return ShardPreparation(vocabulary.expansions, self.statistics(plan), vocabulary.complete)

    def statistics(self, plan: Plan) -> ShardStatistics:
        """The statistics of every term ``plan`` scores, here."""
        return self.term_statistics(list(plan_terms(plan.root)) if plan.root is not None else [])

    def term_statistics(self, keys: list[tuple[str, str]]) -> ShardStatistics:
        """The document frequencies of ``(field, term)`` keys here, with the fields'
        document counts and total lengths (a query whose words need no expansion:
        the client compiled it alone and asks only for these)."""
        snapshot = self.snapshot
        freqs: dict[tuple[str, str], int] = {}
        for field_name, term in keys:
            if (field_name, term) not in freqs:
                freqs[field_name, term] = snapshot.document_frequency(field_name, term)
        counts = {name: int(snapshot.field_docs[name]) for name in TEXT_FIELDS}
        lengths = {name: float(snapshot.total_length[name]) for name in TEXT_FIELDS}
        return counts, lengths, freqs

    def rank(
        self,
        plan: Plan,
        text: str | None,
        wanted: int,
        sort: str,
        ranking: Ranking,
        statistics: Statistics | None,
        exclude: str | None = None,
        facets: tuple[str, ...] = (),
        track_total: int | None = None,
        collapse: bool = False,
    ) -> ShardRanking:
        """The first ``wanted`` matches (never the article ``exclude``); ``text``, the
        query as typed, is what a suggestion corrects (None: no suggestion); complete
        facet counts of the fields ``facets`` names; matches counted exactly up to
        ``track_total`` (None: all; the client's ``Collectors.count_up_to``);
        ``statistics`` None: this shard's own; ``collapse``: with each key's
        signature, source and date (``ShardRanking.copies``)."""
        if plan.root is None:
            return ShardRanking(0, [])
        left_out = None if exclude is None else self.snapshot.docnum_of(exclude)
        run = execute(
            plan.root, self.snapshot, ranking, wanted, sort, left_out,
            statistics=statistics, track_total=track_total,
        )  # fmt: skip
        ids = [self.snapshot.doc_id(d) for d in run.top.tolist()]
        keys = list(zip(run.top_primary.tolist(), run.top_scores.tolist(), ids, strict=True))
        evidence = None
        if text is not None and self.snapshot.doc_count:
            # The client sums every shard's and chooses, as one index would.
            evidence = suggestion_evidence(self.snapshot, plan)
        counts = facet_counts(self.snapshot, run.matches, facets, limit=None) if facets else {}
        return ShardRanking(
            run.total,
            keys,
            counts,
            evidence,
            run.scored,
            run.relation,
            self.snapshot.doc_count,
            self.snapshot.generation,
            self._copies(run.top) if collapse else None,
        )

    def rank_page(
        self,
        plan: Plan,
        text: str | None,
        wanted: int,
        sort: str,
        ranking: Ranking,
        statistics: Statistics | None,
        exclude: str | None,
        facets: tuple[str, ...],
        track_total: int | None,
        prefetch: int,
        snippets: bool,
        explain: bool,
        snippet_size: int,
    ) -> tuple[ShardRanking, list[Hit]]:
        """``rank``, and the hits of its first ``prefetch`` keys from the same
        snapshot: the share of the page a shard most likely holds comes with its
        ranking, so the client fetches only the hits it still lacks (usually none:
        one round fewer)."""
        ranked = self.rank(
            plan, text, wanted, sort, ranking, statistics, exclude, facets, track_total
        )
        hit_options = (snippets, explain, snippet_size)
        return ranked, self._hits_of(ranked, 0, prefetch, plan, ranking, statistics, *hit_options)

    def _hits_of(
        self,
        ranked: ShardRanking,
        first: int,
        count: int,
        plan: Plan,
        ranking: Ranking,
        statistics: Statistics | None,
        *hit_options: Any,
    ) -> list[Hit]:
        """The hits of ranked keys ``first`` to ``first + count - 1``, numbered from
        ``first + 1``."""
        chosen = ranked.keys[first : first + count]
        keys = [(doc_id, first + n + 1, score) for n, (_p, score, doc_id) in enumerate(chosen)]
        return self.hits(keys, plan, ranking, statistics, *hit_options)

    def _copies(self, docs: np.ndarray) -> list[tuple[bytes, str | None, int | None]]:
        signatures = self.snapshot.signatures(docs)
        return [
            (signatures[row].tobytes(), *source_and_date(self.snapshot, doc))
            for row, doc in enumerate(docs.tolist())
        ]

    def hits(
        self,
        keys: list[tuple[str, int, float]],
        plan: Plan,
        ranking: Ranking,
        statistics: Statistics | None,
        snippets: bool,
        explain: bool,
        snippet_size: int,
    ) -> list[Hit]:
        """Hits for ``(id, rank, score)`` keys of this shard, in the order given."""
        run = None
        if explain and plan.root is not None:
            run = execute(plan.root, self.snapshot, ranking, 0, statistics=statistics)
        out = []
        for doc_id, rank, score in keys:
            docnum = self.snapshot.docnum_of(doc_id)
            if docnum is None:
                continue  # deleted since it was ranked
            fields = public_fields(self.snapshot.stored(docnum))
            snippet = title = None
            if snippets:
                snippet = make_snippet(fields, self.analyzer, plan.highlight, size=snippet_size)
                title = highlight_title(fields["title"], self.analyzer, plan.highlight)
            explanation = run.explain(docnum) if run is not None else None
            recency = None
            if ranking.recency is not None:
                published = self.snapshot.published[docnum : docnum + 1]
                recency = float(ranking.recency.factors(published)[0])
            out.append(Hit(doc_id, rank, score, fields, snippet, explanation, title, recency))
        return out

    def page(
        self,
        plan: Plan,
        text: str | None,
        offset: int,
        limit: int,
        sort: str,
        ranking: Ranking,
        exclude: str | None,
        snippets: bool,
        explain: bool,
        snippet_size: int,
        facets: tuple[str, ...] = (),
        track_total: int | None = None,
    ) -> tuple[ShardRanking, list[Hit]]:
        """A whole search in one step, for an index of one shard: its own statistics
        are the global ones, and its first hits are the page."""
        statistics = LocalStatistics(self.snapshot)
        ranked = self.rank(plan, text, offset + limit, sort, ranking, statistics, exclude, facets)
        hit_options = (snippets, explain, snippet_size)
        return ranked, self._hits_of(ranked, offset, limit, plan, ranking, statistics, *hit_options)

    def similar_counts(self, doc_id: str) -> dict[str, int] | None:
        """The telling terms of the article ``doc_id`` (None: not in this shard)."""
        docnum = self.snapshot.docnum_of(doc_id)
        if docnum is None or not self.snapshot.live[docnum]:
            return None
        return dict(similar_counts(self.snapshot, self.analyzer, docnum))

    def signature_of(self, doc_id: str) -> bytes | None:
        """The near-duplicate signature of the article ``doc_id`` (None: not here)."""
        docnum = self.snapshot.docnum_of(doc_id)
        if docnum is None:
            return None
        return self.snapshot.signatures(np.array([docnum]))[0].tobytes()

    def copies_of(self, signature: bytes, at_least: int, doc_id: str) -> list[Duplicate]:
        """This shard's copies of the article ``doc_id`` whose signature is given."""
        return copies_like(self.snapshot, np.frombuffer(signature, np.uint8), at_least, doc_id)

    def body_doc_freqs(self, terms: list[str]) -> tuple[int, dict[str, int]]:
        """(documents with a body, each term's live body document frequency)."""
        freqs = {term: self.snapshot.document_frequency("body", term) for term in terms}
        return int(self.snapshot.field_docs["body"]), freqs
