"""Block maxima (``engine.blocks``) and block-max pruning: the blocks a segment and a
merge write bound every posting in them, a score's bound is never below the score,
pruned pages are the exhaustive pages, and block-max scores fewer documents than
match (a test that fails when the pruning is switched off)."""

from __future__ import annotations

import random

import numpy as np
import pytest

import searchlib
from searchlib.engine import postings_merge
from searchlib.engine.blocks import BLOCK, block_parts, finish_blocks, term_blocks
from searchlib.query import execute as execute_module
from searchlib.query.execute import execute
from searchlib.query.parse import parse_query
from searchlib.query.plan import compile_query
from searchlib.query.scorers import BoolScorer
from searchlib.query.statistics import LocalStatistics
from searchlib.query.term_scoring import ScoringContext

from .test_equivalence import _corpus

SCORED = ("title", "title_exact", "body", "body_exact")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    ix = searchlib.Index.create(tmp_path_factory.mktemp("blocks") / "ix", workers=1)
    docs = _corpus(1600)
    ix.add(docs[:1000])  # one large segment: its frequent terms have stored blocks
    ix.add(docs[1000:])
    ix.delete([f"d{n}" for n in range(0, 1600, 13)])
    return ix, docs


def _segments(ix):
    snapshot = ix._engine.snapshot()
    return snapshot, list(snapshot._leaves())


def test_every_posting_lies_in_a_block_that_bounds_it(index):
    ix, _docs = index
    snapshot, leaves = _segments(ix)
    stored = 0
    for columns, offset in leaves:
        for name in SCORED:
            field = columns.arrays.field(name)
            stored += len(field.extra.get("bterms", ()))
            for term in range(len(field)):
                docs, tfs = field.postings(term)
                blocks = term_blocks(field, term, snapshot.lengths, offset)
                at = np.searchsorted(blocks.last, docs + offset)
                assert (at < len(blocks)).all()
                assert (np.diff(blocks.last) > 0).all()
                assert (blocks.tf[at] >= tfs).all()
                # A block holds at most BLOCK postings.
                assert np.bincount(at).max() <= BLOCK
                for text, lengths in snapshot.lengths.items():
                    assert (blocks.min_lengths[text][at] <= lengths[docs + offset]).all()
    assert stored > 50  # the large segment keeps blocks for its frequent terms


def test_a_merge_writes_the_blocks_of_its_postings(tmp_path, monkeypatch):
    # Merged in many small hash ranges: each range's blocks name their terms by the
    # merged numbering, and equal the blocks computed afresh from the merged postings.
    monkeypatch.setattr(postings_merge, "CHUNK_POSTINGS", 5_000)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    docs = _corpus(900)
    for start in range(0, 900, 300):
        ix.add(docs[start : start + 300])
    ix.delete(["d5", "d400"])
    ix.optimize()
    snapshot, leaves = _segments(ix)
    assert len(leaves) == 1
    columns, _offset = leaves[0]
    lengths = {name: values.astype(np.int64) for name, values in snapshot.lengths.items()}
    for name in SCORED:
        field = columns.arrays.field(name)
        docs_all = field.docs_between(0, len(field))
        tfs = np.asarray(field.tfs)
        expected = finish_blocks(block_parts(np.asarray(field.posts), docs_all, tfs, lengths))
        if name.startswith("body"):
            assert len(expected["bterms"]) > 20
        for part, values in expected.items():
            np.testing.assert_array_equal(field.extra[part], values, err_msg=f"{name}.{part}")


def _plans(ix, docs, ranking, count, seed):
    snapshot = ix._engine.snapshot()
    rng = random.Random(seed)
    plans = []
    while len(plans) < count:
        words = rng.choice(docs)["title"].split() + rng.choice(docs)["body"].split()[:6]
        query = " ".join(rng.sample(words, min(len(words), rng.choice((1, 2, 3, 5)))))
        if rng.random() < 0.1:
            query = f'"{" ".join(words[:2])}" {query}'
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        if plan.root is not None:
            plans.append((query, plan.root))
    return snapshot, plans


@pytest.mark.parametrize("coordination", [True, False])
def test_bounds_are_never_below_scores(index, coordination):
    ix, docs = index
    ranking = searchlib.Ranking(coordination=coordination)
    snapshot, plans = _plans(ix, docs, ranking, 60, seed=coordination)
    for query, plan in plans:
        root = BoolScorer(ScoringContext(snapshot, ranking, LocalStatistics(snapshot)), plan)
        matches = root.docs()
        scores = root.scores(matches)
        bounds = root.bounds(matches)
        assert (bounds >= scores * (1 - 1e-12)).all(), query
        assert root.max_score >= scores.max(initial=0.0) * (1 - 1e-12), query


@pytest.mark.parametrize("coordination", [True, False])
def test_block_max_pages_are_the_exhaustive_pages(index, coordination, monkeypatch):
    ix, docs = index
    monkeypatch.setattr(execute_module, "BLOCK_MAX_FROM", 16)  # block-max on every query
    ranking = searchlib.Ranking(coordination=coordination)
    snapshot, plans = _plans(ix, docs, ranking, 80, seed=7 + coordination)
    rng = random.Random(3)
    for query, plan in plans:
        wanted = rng.choice((1, 5, 10, 40))
        pruned = execute(plan, snapshot, ranking, wanted)
        full = execute(plan, snapshot, ranking, wanted, prune=False)
        assert pruned.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
        assert pruned.total == full.total


def test_block_max_scores_fewer_documents_than_match(index, monkeypatch):
    # One common word: neither clause tiers nor MaxScore can skip anything (one
    # clause), so every document scored beyond the page's share is block-max's doing.
    ix, _docs = index
    snapshot = ix._engine.snapshot()
    ranking = searchlib.Ranking()
    common = max(
        ("gempa", "pemerintah", "indonesia", "warga", "kota"),
        key=lambda w: ix.search(w, limit=0, snippets=False).total,
    )
    plan = compile_query(parse_query(common), snapshot, ix.analyzer, ranking)
    monkeypatch.setattr(execute_module, "BLOCK_MAX_FROM", 64)
    pruned = execute(plan.root, snapshot, ranking, 10)
    assert len(pruned.matches) > 400
    assert pruned.scored < len(pruned.matches) / 2, (pruned.scored, len(pruned.matches))
    monkeypatch.setattr(execute_module, "BLOCK_MAX_FROM", 10**9)  # off
    unpruned = execute(plan.root, snapshot, ranking, 10)
    assert unpruned.scored == len(unpruned.matches)
    assert pruned.top.tolist() == unpruned.top.tolist()
