"""Block maxima: written with every segment and merge, checked by ``search check``, and
bounding every score, so block-max pruning stays exact while scoring fewer documents."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import searchlib
from searchlib.engine import SCORED_FIELDS, SCORED_TEXT, blockmax
from searchlib.engine.arrays import field_parts
from searchlib.engine.arrays_read import FieldArrays
from searchlib.errors import IndexCorruptError
from searchlib.query import execute as execute_module
from searchlib.query import term_scoring
from searchlib.query.execute import execute
from searchlib.query.parse import parse_query
from searchlib.query.plan import compile_query
from searchlib.query.score_bounds import pareto, term_frontier
from searchlib.query.statistics import LocalStatistics

from .test_equivalence import _corpus
from .test_pruning import _every_scorer, _random_query

SMALL_BLOCK = 8  # many blocks per word in a small corpus, many shared by two words


def _build(folder, docs, *, merged: bool):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blockmax, "BLOCK_POSTINGS", SMALL_BLOCK)
        ix = searchlib.Index.create(folder, workers=1)
        for start in range(0, len(docs), 100):
            ix.add(docs[start : start + 100])
        ix.delete([f"d{n}" for n in range(0, len(docs), 7)])
        if merged:
            ix.optimize()
    return ix


@pytest.fixture(scope="module", params=["segments", "merged"])
def index(request, tmp_path_factory):
    docs = _corpus(400)
    folder = tmp_path_factory.mktemp(f"blockmax-{request.param}") / "ix"
    return _build(folder, docs, merged=request.param == "merged"), docs


def _segment_fields(ix):
    snapshot = ix._engine.snapshot()
    for columns in snapshot._segments:
        for name in SCORED_FIELDS:
            field = columns.arrays.field(name)
            if field is not None and len(field):
                yield field, np.asarray(columns.lengths[SCORED_TEXT[name]], dtype=np.int64)


def test_every_block_holds_its_postings_largest_frequency_and_smallest_length(index):
    # Written with a new segment's postings and again by a merge (a range of terms at
    # a time, blocks across the ranges' edges): the same corners as computed whole.
    ix, _docs = index
    checked = 0
    for field, lengths in _segment_fields(ix):
        docs = field.docs_between(0, len(field))
        tfs = field.frequencies(0, field.posting_count)
        highest, lowest = blockmax.block_corners(tfs, lengths[docs], SMALL_BLOCK)
        assert field.block_size == SMALL_BLOCK
        assert field.block_max.tolist() == highest.tolist()
        assert field.block_min.tolist() == lowest.tolist()
        checked += len(highest)
    assert checked > 500


def test_a_merge_takes_the_blocks_as_its_ranges_go_by():
    rng = np.random.default_rng(3)
    tfs, lengths = rng.integers(1, 9, 1000), rng.integers(0, 300, 1000)
    whole = blockmax.block_corners(tfs, lengths, 16)
    accumulator = blockmax.BlockAccumulator(16)
    cuts = sorted(rng.choice(np.arange(1, 1000), 12, replace=False).tolist())
    for low, high in zip([0, *cuts], [*cuts, 1000], strict=True):
        accumulator.feed(tfs[low:high], lengths[low:high])
    found = accumulator.finish()
    assert [found[0].tolist(), found[1].tolist()] == [whole[0].tolist(), whole[1].tolist()]


def _small_field(lengths):
    terms = [b"alpha", b"beta", b"gamma"]
    starts = np.array([0, 20, 25, 60])
    docs = np.concatenate([np.arange(0, 40, 2), np.arange(5), np.arange(35)])
    tfs = np.arange(len(docs)) % 5 + 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blockmax, "BLOCK_POSTINGS", 4)
        return field_parts(terms, starts, docs, tfs, lengths=lengths)


def test_search_check_refuses_block_maxima_below_their_postings():
    # A crafted file with a bound under a score would drop a document from its page:
    # the check recomputes the blocks and names the file. Wrong sizes fail at once.
    lengths = np.arange(40) + 3
    parts = _small_field(lengths)
    field = FieldArrays(parts, "index file 'x.slp', field 'body',")
    field.validate(40, full=True)
    field.check_blocks(lengths)
    for name, change in (("blockmax", -1), ("blockmin", +1)):
        crafted = dict(parts)
        crafted[name] = parts[name].copy()
        crafted[name][3] = int(crafted[name][3]) + change
        with pytest.raises(IndexCorruptError, match=r"x\.slp.*block's maxima"):
            FieldArrays(crafted, "index file 'x.slp', field 'body',").check_blocks(lengths)
    for name in ("blockmax", "blockmin"):
        crafted = dict(parts)
        crafted[name] = parts[name][:-1]
        with pytest.raises(IndexCorruptError, match="block maxima"):
            FieldArrays(crafted, "index file 'x.slp', field 'body',").check(40)


def test_search_check_recomputes_the_blocks(index, monkeypatch):
    ix, _docs = index
    checked = []
    original = FieldArrays.check_blocks

    def spy(self, lengths):
        checked.append(self.where)
        original(self, lengths)

    monkeypatch.setattr(FieldArrays, "check_blocks", spy)
    assert ix.check() == []
    assert len(checked) == len(SCORED_FIELDS) * ix._engine.snapshot().segment_count


def test_a_frontier_bounds_every_combination_of_its_fields():
    rng = np.random.default_rng(11)
    lists = []
    for _ in range(3):
        tf, length = rng.integers(1, 30, 200).astype(float), rng.integers(1, 500, 200)
        lists.append((tf, length))
    frontier = term_frontier(
        [(2.0, [pareto(*lists[0]), pareto(*lists[1])]), (1.0, [pareto(*lists[2])])]
    )
    # Any document: a point (or none) of each list; the first two share a length.
    for _ in range(500):
        chosen = [rng.integers(-1, 200) for _ in range(3)]
        if all(c < 0 for c in chosen):
            continue
        tf = sum(lists[i][0][c] for i, c in enumerate(chosen) if c >= 0)
        shared = max([lists[i][1][c] for i, c in enumerate(chosen[:2]) if c >= 0], default=0)
        length = 2.0 * shared + (lists[2][1][chosen[2]] if chosen[2] >= 0 else 0)
        assert bool(np.any((frontier[0] >= tf) & (frontier[1] <= length))), (tf, length)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10**6), coordination=st.booleans(), exact_upto=st.sampled_from([0, 256]))
def test_no_score_is_above_its_bounds(index, monkeypatch, seed, coordination, exact_upto):
    # Every scorer of random queries (words, phrases, prefixes, synonyms, must and
    # must-not): bounds at its matches and its upper bound at least their scores, the
    # upper bound no more than the score range. exact_upto 0: every word by blocks.
    monkeypatch.setattr(term_scoring, "EXACT_BOUNDS_UPTO", exact_upto)
    ix, docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=coordination)
    rng = random.Random(seed)
    plan = compile_query(
        parse_query(_random_query(rng, docs)),
        snapshot,
        ix.analyzer,
        ranking,
        [],
        ix._synonym_table(snapshot),
    )
    if plan.root is None:
        return
    root = execute_module.BoolScorer(
        term_scoring.ScoringContext(snapshot, ranking, LocalStatistics(snapshot)), plan.root
    )
    for scorer in _every_scorer(root):
        matches = scorer.docs()
        if not len(matches):
            continue
        scores = scorer.scores(matches)
        assert np.all(scorer.bounds(matches) >= scores), scorer
        assert scorer.upper_bound >= scores.max(), scorer
        assert scorer.upper_bound <= scorer.score_range * (1 + 1e-9) + 1e-12, scorer


def _constant_bounds(monkeypatch):
    """Block-max off: every word bounded by idf * (k1 + 1) wherever it is."""
    monkeypatch.setattr(
        term_scoring.CombinedPostings, "upper_bound", property(lambda self: self.score_range)
    )
    monkeypatch.setattr(
        term_scoring.CombinedPostings,
        "bounds",
        lambda self, ids: self.contains(ids) * self.score_range,
    )


@pytest.mark.parametrize("coordination", [True, False])
def test_block_maxima_spare_most_documents_a_common_word_matches(index, monkeypatch, coordination):
    # One common word: every match is one tier, and with one bound for all of them
    # every match is scored; its blocks' bounds leave only the few that can still
    # reach the page. Fails when block-max pruning is removed, not only when pages change.
    monkeypatch.setattr(execute_module, "BOUND_FROM", 0)
    monkeypatch.setattr(execute_module, "BOUND_UPTO", 1.0)
    monkeypatch.setattr(execute_module, "FIRST_SCORED", 16)
    monkeypatch.setattr(term_scoring, "EXACT_BOUNDS_UPTO", 0)
    ix, _docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking(coordination=coordination)
    word = max(("pemerintah", "indonesia", "warga", "kota"), key=lambda w: ix.search(w).total)
    plan = compile_query(parse_query(word), snapshot, ix.analyzer, ranking, [], None)
    full = execute(plan.root, snapshot, ranking, 10, prune=False)
    pruned = execute(plan.root, snapshot, ranking, 10)
    assert pruned.top.tolist() == full.top.tolist()
    np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
    assert len(full.matches) > 100
    assert pruned.scored < len(full.matches) * 0.8, (pruned.scored, len(full.matches))
    _constant_bounds(monkeypatch)
    constant = execute(plan.root, snapshot, ranking, 10)
    assert constant.top.tolist() == full.top.tolist()
    assert constant.scored == len(full.matches)


def test_candidates_past_a_share_of_the_index_are_scored_whole(index, monkeypatch):
    # Bounding a candidate searches each word's postings; past BOUND_UPTO of the
    # index scoring it is a gather, so every candidate is scored outright (fails if
    # the share is not heeded: fewer scored), and the page is the same either way.
    monkeypatch.setattr(execute_module, "BOUND_FROM", 0)
    monkeypatch.setattr(execute_module, "FIRST_SCORED", 16)
    monkeypatch.setattr(term_scoring, "EXACT_BOUNDS_UPTO", 0)
    ix, _docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    word = max(("pemerintah", "indonesia", "warga", "kota"), key=lambda w: ix.search(w).total)
    plan = compile_query(parse_query(word), snapshot, ix.analyzer, ranking, [], None)
    pages = {}
    for share in (1.0, 0.0):
        monkeypatch.setattr(execute_module, "BOUND_UPTO", share)
        pages[share] = execute(plan.root, snapshot, ranking, 10)
    matched = len(pages[0.0].matches)
    assert matched > 100
    assert pages[1.0].scored < matched == pages[0.0].scored
    assert pages[1.0].top.tolist() == pages[0.0].top.tolist()


def test_document_frequencies_count_live_documents_with_or_without_deletions(tmp_path):
    # Without deletions a word's frequency is read from the term tables (no postings
    # decoded); with them, its live postings are counted. Both equal a count by hand.
    docs = _corpus(240)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    for start in range(0, len(docs), 80):
        ix.add(docs[start : start + 80])  # three segments
    words = sorted({t.term for d in docs[:40] for t in ix.analyzer.analyze(d["body"])})[:60]

    def by_hand(snapshot, word: str) -> int:
        ids, _tfs = snapshot.postings("body", word)
        return len(set(ids[snapshot.live[ids]].tolist()))

    whole = ix._engine.snapshot()
    assert not whole._has_deletions and whole.segment_count == 3
    before = {word: whole.document_frequency("body", word) for word in words}
    decoded = 0
    for word in words:
        decoded += ("body", word) in whole._postings
    assert decoded == 0  # none decoded to count them
    assert before == {word: by_hand(whole, word) for word in words}
    assert whole.document_frequency("body", "kataygtidakada") == 0
    ix.delete([f"d{n}" for n in range(0, len(docs), 3)])
    deleted = ix._engine.snapshot()
    assert deleted._has_deletions
    after = {word: deleted.document_frequency("body", word) for word in words}
    assert after == {word: by_hand(deleted, word) for word in words}
    assert sum(after.values()) < sum(before.values())
    ix.close()
