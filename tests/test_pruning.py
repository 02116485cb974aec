"""Pruning is exact: the pages a pruned execution returns are those of scoring every
match, for many random queries, pages, rankings and filters."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import searchlib
from searchlib.analysis.synonyms import Synonyms, SynonymTable
from searchlib.engine.arrays_read import FieldArrays
from searchlib.query import execute as execute_module
from searchlib.query import maxscore as maxscore_module
from searchlib.query import term_scoring
from searchlib.query.execute import execute
from searchlib.query.parse import parse_query
from searchlib.query.plan import Filter, compile_query
from searchlib.query.statistics import LocalStatistics

from .test_equivalence import _corpus

WORDS_PER_QUERY = (1, 2, 3, 4, 6)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    ix = searchlib.Index.create(tmp_path_factory.mktemp("pruning") / "ix", workers=1)
    docs = _corpus(500)
    for start in range(0, len(docs), 100):  # several segments
        ix.add(docs[start : start + 100])
    ix.delete([f"d{n}" for n in range(0, 500, 11)])
    return ix, docs


def _random_query(rng: random.Random, docs: list[dict]) -> str:
    words = " ".join(d["title"] + " " + d["body"][:200] for d in rng.sample(docs, 3)).split()
    chosen = rng.sample(words, min(len(words), rng.choice(WORDS_PER_QUERY)))
    parts = []
    for word in chosen:
        roll = rng.random()
        if roll < 0.1:
            parts.append("+" + word)
        elif roll < 0.15:
            parts.append("-" + word)
        elif roll < 0.2:
            parts.append(word[:3] + "*")
        else:
            parts.append(word)
    if rng.random() < 0.15 and len(chosen) >= 2:
        parts.append('"' + " ".join(chosen[:2]) + '"')
    return " ".join(parts)


@pytest.mark.parametrize("bound_from", [execute_module.BOUND_FROM, 0])
@pytest.mark.parametrize("coordination", [True, False])
def test_pruned_pages_are_the_exhaustive_pages(index, coordination, bound_from, monkeypatch):
    # bound_from 0: every query also goes through the clause bounds (`_by_bounds`).
    monkeypatch.setattr(execute_module, "BOUND_FROM", bound_from)
    monkeypatch.setattr(execute_module, "BOUND_UPTO", 1.0)  # however many candidates
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=coordination)
    rng = random.Random(17 + coordination)
    compared = 0
    for _ in range(150):
        query = _random_query(rng, docs)
        filters = []
        if rng.random() < 0.2:
            filters.append(Filter("label", "category", (rng.choice(docs)["category"].lower(),)))
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking, filters)
        if plan.root is None:
            continue
        wanted = rng.choice((1, 3, 10, 25))
        pruned = execute(plan.root, snapshot, ranking, wanted)
        full = execute(plan.root, snapshot, ranking, wanted, prune=False)
        assert pruned.matches.tolist() == full.matches.tolist(), query
        assert pruned.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
        compared += len(full.top)
    assert compared > 500


def test_pruning_scores_fewer_documents_than_match(index, monkeypatch):
    # A common word and a title: coordination scores only the top clause-count tiers.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=True)
    common = max(
        ("gempa", "pemerintah", "indonesia", "warga", "kota"),
        key=lambda w: ix.search(w, limit=0, snippets=False).total,
    )
    query = f"{common} {docs[1]['title']}"
    plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
    scored: list[int] = []
    original = execute_module.BoolScorer.scores

    def counting(self, ids):
        scored.append(len(ids))
        return original(self, ids)

    monkeypatch.setattr(execute_module.BoolScorer, "scores", counting)
    execution = execute(plan.root, snapshot, ranking, 1)
    assert scored == [scored[0]] and scored[0] < len(execution.matches) / 4


def test_maxscore_scores_fewer_documents_than_match(index):
    # Without coordination, MaxScore: a common word's clause cannot lift a document
    # into the page on its own, so only the rarer clauses' documents are scored. Fails
    # when pruning is off (every match scored), not only when results change.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=False)
    frequency = {
        w: ix.search(w, limit=0, snippets=False).total
        for w in ("gempa", "pemerintah", "indonesia", "warga", "kota", "yang")
    }
    common = max(frequency, key=frequency.__getitem__)
    pruned_ratios = []
    for doc in docs[1:40:3]:
        query = f"{common} {doc['title']}"
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        pruned = execute(plan.root, snapshot, ranking, 10)
        full = execute(plan.root, snapshot, ranking, 10, prune=False)
        assert full.scored == len(full.matches)
        assert pruned.top.tolist() == full.top.tolist()
        pruned_ratios.append(pruned.scored / len(pruned.matches))
    assert sorted(pruned_ratios)[len(pruned_ratios) // 2] < 0.85, pruned_ratios
    # The search reports it too, beside the documents matched.
    results = ix.search(f"{common} {docs[1]['title']}", ranking=ranking, snippets=False)
    assert 0 < results.scored < results.total
    assert results.to_dict()["scored"] == results.scored


@pytest.mark.parametrize("track", [0, 5, 50])
def test_a_tracked_total_past_its_threshold_skips_the_full_count(index, track):
    # With coordination, a page the documents matching every clause fill needs neither
    # the union of the clauses nor their counts: the total is then a lower bound.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    rng = random.Random(track)
    fast_pages = 0
    for _ in range(120):
        query = _random_query(rng, docs)
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        if plan.root is None:
            continue
        wanted = rng.choice((1, 3, 10))
        tracked = execute(plan.root, snapshot, ranking, wanted, track_total=track)
        full = execute(plan.root, snapshot, ranking, wanted, prune=False)
        assert tracked.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(tracked.top_scores, full.top_scores, rtol=1e-12)
        if tracked.relation == "gte":
            fast_pages += 1
            assert tracked._matches is None  # the union was never built
            assert track <= tracked.total <= len(full.matches)
            assert tracked.scored <= len(full.matches)
            assert tracked.matches.tolist() == full.matches.tolist()  # on demand, exact
        else:
            assert tracked.total == len(full.matches)
    assert fast_pages > 10


def test_the_tier_missing_one_clause_is_found_without_a_union(tmp_path):
    # A rare word beside two common ones: too few documents match all three, so the
    # page comes from those missing one clause, each found as the documents matching
    # all the others; no union of the common words is built. Fails when only the top
    # tier is tried (the union is built and the total is exact), not only when
    # results change.
    docs = _corpus(300)
    docs[7]["body"] += " zqvmorf"  # the rare word, in one article
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    ix.add(docs)
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    frequency = _frequencies(ix, ("gempa", "pemerintah", "indonesia", "warga", "kota", "desa"))
    first, second = sorted(frequency, key=frequency.__getitem__)[-2:]
    for wanted in (3, 10):
        query = f"{first} zqvmorf {second}"
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        tracked = execute(plan.root, snapshot, ranking, wanted, track_total=5)
        full = execute(plan.root, snapshot, ranking, wanted, prune=False)
        assert tracked.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(tracked.top_primary, full.top_primary)
        np.testing.assert_allclose(tracked.top_scores, full.top_scores, rtol=1e-12)
        assert tracked.relation == "gte" and tracked._matches is None, query
        assert tracked.scored < len(full.matches)
    ix.close()


def test_track_total_hits_through_the_search_api(index):
    ix, _docs = index
    common = "gempa warga"
    exact = ix.search(common, track_total_hits=True)
    assert exact.total_relation == "eq" and exact.total > 20
    bound = ix.search(common, track_total_hits=10)
    assert bound.ids() == exact.ids()
    if bound.total_relation == "gte":
        assert 10 <= bound.total <= exact.total
        assert bound.to_dict()["total_relation"] == "gte"
    else:
        assert bound.total == exact.total
    faceted = ix.search(common, track_total_hits=10, facets=["category"])
    assert faceted.total_relation == "eq" and faceted.total == exact.total  # facets count all
    with pytest.raises(searchlib.QueryError, match="track_total_hits"):
        ix.search(common, track_total_hits=-1)


def _synonym_plan(ix, snapshot, ranking, docs):
    """A query whose two words are one synonym entry (with a made-up acronym): one
    clause, so clause-count tiers cannot tell its matches apart."""
    frequency = {
        w: ix.search(w, limit=0, snippets=False).total
        for w in ("gempa", "pemerintah", "indonesia", "warga", "kota", "desa")
    }
    first, second = sorted(frequency, key=frequency.__getitem__)[-2:]
    table = SynonymTable(Synonyms.parse(f"{first} {second}, zqxkb"), ix.analyzer)
    tree = parse_query(f"{first} {second}")
    return compile_query(tree, snapshot, ix.analyzer, ranking, [], table)


@pytest.mark.parametrize("wanted", [1, 10, 40])
def test_clause_bounds_score_fewer_documents_than_match(index, monkeypatch, wanted):
    # The words of a synonym entry are one clause: every match is in one tier. Bounded
    # by the clauses each matches, documents holding one word of the two need no score
    # once the page's last score is above what one word can give. Fails when the
    # bounds are switched off (every match scored), not only when results change.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    plan = _synonym_plan(ix, snapshot, ranking, docs)
    monkeypatch.setattr(maxscore_module, "MAX_LEAVES", 0)  # the clause bounds alone
    monkeypatch.setattr(execute_module, "BOUND_FROM", 0)
    monkeypatch.setattr(execute_module, "BOUND_UPTO", 1.0)
    bounded = execute(plan.root, snapshot, ranking, wanted)
    monkeypatch.setattr(execute_module, "BOUND_FROM", 10**9)
    unbounded = execute(plan.root, snapshot, ranking, wanted)
    full = execute(plan.root, snapshot, ranking, wanted, prune=False)
    assert bounded.top.tolist() == unbounded.top.tolist() == full.top.tolist()
    np.testing.assert_allclose(bounded.top_scores, full.top_scores, rtol=1e-12)
    assert unbounded.scored == len(full.matches) > 100
    assert bounded.scored < len(full.matches) * 0.8, (bounded.scored, len(full.matches))


@pytest.mark.parametrize("wanted", [1, 10, 40])
def test_leaf_maxscore_scores_fewer_documents_in_one_synonym_clause(index, monkeypatch, wanted):
    # "first second" or its acronym is one clause: one tier. A document holding only
    # one of the two words is bounded by that word's upper bound alone, below the
    # page's last score, so it is never scored. Fails when the leaves are not used
    # (MAX_LEAVES 0: every match scored), not only when results change.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    plan = _synonym_plan(ix, snapshot, ranking, docs)
    monkeypatch.setattr(execute_module, "BOUND_FROM", 10**9)  # no clause bounds
    pruned = execute(plan.root, snapshot, ranking, wanted)
    full = execute(plan.root, snapshot, ranking, wanted, prune=False)
    assert pruned.top.tolist() == full.top.tolist()
    np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
    assert pruned.total == full.total == len(full.matches) > 100
    assert pruned.scored < len(full.matches) * 0.8, (pruned.scored, len(full.matches))
    monkeypatch.setattr(maxscore_module, "MAX_LEAVES", 0)
    assert execute(plan.root, snapshot, ranking, wanted).scored == len(full.matches)


@pytest.mark.parametrize("recency", [False, True])
@pytest.mark.parametrize("coordination", [True, False])
def test_pruned_pages_with_synonyms_are_the_exhaustive_pages(index, coordination, recency):
    # Synonym rules of corpus words (several words, one word, a made-up acronym) make
    # clause trees of sums and scaled best-ofs: pruned by the leaves, the pages are
    # those of scoring every match (a recency's factors bounded by the largest).
    ix, docs = index
    snapshot = ix._engine.snapshot()
    # The corpus's articles date from 2020 and 2021: their factors differ.
    origin = datetime(2021, 9, 15, tzinfo=timezone.utc)
    decay = searchlib.Recency(scale="30d", weight=0.5, origin=origin) if recency else None
    ranking = searchlib.Ranking(coordination=coordination, recency=decay)
    rng = random.Random(29 + coordination)
    words = sorted({w for d in docs[:60] for w in (d["title"] + " " + d["body"][:300]).split()})
    words = [w for w in words if w.isalpha() and len(w) > 3]
    compared = 0
    for _ in range(60):
        entries = [" ".join(rng.sample(words, rng.choice((1, 2, 3)))) for _ in range(3)]
        table = SynonymTable(
            Synonyms.parse(", ".join([*entries, "zq" + rng.choice(words)])), ix.analyzer
        )
        extra = rng.sample(words, rng.choice((0, 0, 1, 2)))
        query = " ".join([rng.choice(entries), *extra])
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking, [], table)
        if plan.root is None:
            continue
        wanted = rng.choice((1, 3, 10, 25))
        pruned = execute(plan.root, snapshot, ranking, wanted)
        full = execute(plan.root, snapshot, ranking, wanted, prune=False)
        assert pruned.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
        compared += len(full.top)
    assert compared > 200


def _frequencies(ix, words):
    return {w: ix.search(w, limit=0, snippets=False, track_total_hits=True).total for w in words}


def _common_and_rarer(ix, docs):
    """The corpus's most frequent word of a few, and words from one title (rarer)."""
    frequency = _frequencies(ix, ("gempa", "pemerintah", "indonesia", "warga", "kota", "desa"))
    common = max(frequency, key=frequency.__getitem__)
    return common, frequency[common]


def test_the_top_tier_is_found_without_a_common_words_union(index):
    # A page the documents matching every clause fill comes from the smallest clause,
    # the others asked about its documents only: the union of a common word's fields
    # (and the clause made of it) is never built. Fails if the tier is found by
    # intersecting every clause's docs(), not only when results change.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    common, count = _common_and_rarer(ix, docs)
    fast = 0
    for doc in docs[2:200:7]:
        rarer = next((w for w in doc["title"].split() if w.lower() != common), None)
        if rarer is None:
            continue
        plan = compile_query(parse_query(f"{common} {rarer}"), snapshot, ix.analyzer, ranking)
        if plan.root is None or len(plan.root.should) != 2:
            continue
        tracked = execute(plan.root, snapshot, ranking, 1, track_total=5)
        full = execute(plan.root, snapshot, ranking, 1, prune=False)
        assert tracked.top.tolist() == full.top.tolist()
        np.testing.assert_allclose(tracked.top_scores, full.top_scores, rtol=1e-12)
        if tracked.relation != "gte":
            continue
        fast += 1
        largest = max(tracked.root.should, key=lambda clause: clause.at_most)
        assert largest._docs is None, f"{common} {rarer}"
        assert all(term._docs is None for term in largest.terms)
        assert 5 <= tracked.total <= len(full.matches)
    assert fast >= 5, (fast, count)


def test_a_phrase_reads_positions_only_where_the_other_clauses_match(index, monkeypatch):
    # A phrase of common words beside a rarer word: its positions are read in the
    # documents the rarer word's clause leaves, not in every document holding both
    # words. Fails when the phrase matches every document first (positions read for
    # all of them), not only when results change.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    asked: list[int] = []
    original = type(snapshot).positions_flat

    def counting(self, field, term, wanted):
        asked.append(len(wanted))
        return original(self, field, term, wanted)

    monkeypatch.setattr(type(snapshot), "positions_flat", counting)
    checked = 0
    for doc in docs[:400:5]:
        words = doc["body"].lower().rstrip(".").split()
        pairs = {f"+{a} +{b}": f'"{a} {b}"' for a, b in itertools.pairwise(words[:40])}
        both = _frequencies(ix, pairs)
        pair = max(both, key=both.__getitem__)
        title = _frequencies(ix, set(doc["title"].lower().split()) - set(pair.split()))
        rarer = min(title, key=title.__getitem__, default=None)
        if rarer is None or title[rarer] * 3 > both[pair]:
            continue
        query = f"{pairs[pair]} {rarer}"
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        asked.clear()
        pruned = execute(plan.root, snapshot, ranking, 1, track_total=1)
        read = max(asked, default=0)
        full = execute(plan.root, snapshot, ranking, 1, prune=False)
        assert pruned.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
        if pruned.relation == "gte":
            checked += 1
            assert read <= title[rarer] < both[pair], (query, read, title[rarer], both[pair])
    assert checked >= 3


@pytest.mark.parametrize("seed", [0, 1])
def test_a_common_word_spread_by_document_scores_as_searched(index, monkeypatch, seed):
    # Frequencies read from an array by document (a common word asked about often)
    # are those binary search finds: the same pages, scores and totals either way.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=bool(seed))
    rng = random.Random(40 + seed)
    spread_used = 0
    for _ in range(60):
        query = _random_query(rng, docs)
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        if plan.root is None:
            continue
        pages = []
        for dense_from in (0, 10**9):  # never spread, always spread
            monkeypatch.setattr(term_scoring, "DENSE_FROM", dense_from)
            done = execute(plan.root, snapshot, ranking, 10, track_total=5)
            pages.append((done.top.tolist(), done.top_scores.tolist(), done.total, done.relation))
        assert pages[0] == pages[1], query
        spread_used += pages[1] != ([], [], 0, "eq")
    assert spread_used > 20


def test_a_common_word_is_spread_once_asked_about_often(index):
    ix, _docs = index
    snapshot = ix._engine.snapshot()
    common, _count = _common_and_rarer(ix, _docs)
    term = ix.analyzer.tokens(common)[0].term
    postings = term_scoring.TermPostings(snapshot, "body", term)
    everything = np.arange(snapshot.max_doc, dtype=np.int64)
    expected = np.zeros(snapshot.max_doc)
    expected[postings.ids] = postings.tf
    assert postings._by_document is None
    np.testing.assert_array_equal(postings.at(everything[:5]), expected[:5])
    assert postings._by_document is None  # a few documents: searched
    np.testing.assert_array_equal(postings.at(everything), expected)
    assert postings._by_document is not None  # asked about every document: spread
    np.testing.assert_array_equal(postings.at(everything), expected)
    np.testing.assert_array_equal(postings.contains(everything), expected > 0)
    rare = term_scoring.TermPostings(snapshot, "body", "zzqx-absent")
    assert not rare.at(everything).any() and rare._by_document is None


def _every_scorer(node):
    """A scorer and all the scorers it is made of."""
    yield node
    for attribute in ("must", "should", "must_not", "alternatives"):
        for child in getattr(node, attribute, ()):
            yield from _every_scorer(child)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10**6), coordination=st.booleans())
def test_what_a_scorer_says_of_some_documents_is_what_its_matches_say(index, seed, coordination):
    # contains(ids) is membership in docs(), and at_least <= matches <= at_most, for
    # every scorer of random queries (must, must-not, prefixes, phrases, filters,
    # synonyms), asked before and after docs() is built: the top tier relies on it.
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=coordination)
    rng = random.Random(seed)
    query = _random_query(rng, docs)
    filters = []
    if rng.random() < 0.3:
        filters.append(Filter("label", "category", (rng.choice(docs)["category"].lower(),)))
    plan = compile_query(
        parse_query(query), snapshot, ix.analyzer, ranking, filters, ix._synonym_table(snapshot)
    )
    if plan.root is None:
        return
    asked = np.sort(rng.sample(range(snapshot.max_doc), min(snapshot.max_doc, 60)))
    asked = asked[snapshot.live[asked]].astype(np.int64)
    for fresh in (True, False):
        root = execute_module.BoolScorer(
            term_scoring.ScoringContext(snapshot, ranking, LocalStatistics(snapshot)), plan.root
        )
        for scorer in _every_scorer(root):
            if not fresh:
                scorer.docs()
            said = scorer.contains(asked)
            matches = scorer.docs()
            assert said.tolist() == np.isin(asked, matches).tolist(), (query, scorer)
            assert scorer.at_least <= len(matches) <= scorer.at_most, (query, scorer)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_words_positions_in_some_documents_are_its_positions_there(index, data):
    # Asking a common word's positions in a few documents gives what asking for every
    # document gives there; the postings the snapshot keeps are read, not decoded
    # again per ask (fails if positions_flat decodes the term's postings itself).
    ix, _docs = index
    snapshot = ix._engine.snapshot()
    counts = {}
    for doc in _docs[:50]:
        for word in doc["body"].lower().split()[:30]:
            counts[word] = counts.get(word, 0) + 1
    term = ix.analyzer.tokens(data.draw(st.sampled_from(sorted(counts))))
    if not term:
        return
    term = term[0].term
    everything = np.arange(snapshot.max_doc, dtype=np.int64)
    all_docs, all_positions = snapshot.positions_flat("body", term, everything)
    wanted = np.asarray(
        sorted(data.draw(st.sets(st.integers(0, snapshot.max_doc - 1), max_size=60))),
        dtype=np.int64,
    )
    decoded = []
    original = FieldArrays.term_docs
    try:
        FieldArrays.term_docs = lambda self, i: decoded.append(i) or original(self, i)
        docs, positions = snapshot.positions_flat("body", term, wanted)
    finally:
        FieldArrays.term_docs = original
    keep = np.isin(all_docs, wanted)
    assert docs.tolist() == all_docs[keep].tolist()
    assert positions.tolist() == all_positions[keep].tolist()
    assert decoded == []
