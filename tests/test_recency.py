"""Recency: the decay functions, the blend into the score, and pruning that stays exact."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import searchlib
from searchlib import Ranking, Recency
from searchlib.cli import cli
from searchlib.engine.schema import MISSING_DATE
from searchlib.query import execute as execute_module
from searchlib.query.execute import execute
from searchlib.query.parse import parse_query
from searchlib.query.plan import compile_query

from .test_equivalence import _corpus

ORIGIN = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAY = 86_400


def _at(days_before: float) -> str:
    return (ORIGIN - timedelta(days=days_before)).isoformat()


@pytest.mark.parametrize("function", ["gauss", "exp", "linear"])
def test_a_decay_is_one_within_the_offset_and_decay_at_the_scale(function):
    recency = Recency(scale="10d", offset="2d", decay=0.4, function=function, origin=ORIGIN)
    origin = int(ORIGIN.timestamp())
    moments = np.array(
        [origin, origin - 2 * DAY, origin + DAY, origin - 12 * DAY, origin + 12 * DAY]
    )
    np.testing.assert_allclose(recency.decays(moments), [1, 1, 1, 0.4, 0.4], rtol=1e-12)
    # Further out it keeps falling; an undated article has no decay to add.
    far = recency.decays(np.array([origin - 30 * DAY, origin - 400 * DAY, MISSING_DATE]))
    assert 0 <= far[1] <= far[0] < 0.4 and far[2] == 0


def test_linear_reaches_zero_and_gauss_falls_faster_than_exp_past_the_scale():
    origin = int(ORIGIN.timestamp())
    past = np.array([origin - 40 * DAY])
    shaped = {
        f: Recency(scale="10d", offset=0, decay=0.5, function=f, origin=ORIGIN).decays(past)[0]
        for f in ("gauss", "exp", "linear")
    }
    assert shaped["linear"] == 0.0  # 0 at scale / (1 - decay) = 20 days
    assert shaped["gauss"] < shaped["exp"]
    assert shaped["exp"] == pytest.approx(0.5**4)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(10**10), 10**10), min_size=1, max_size=40),
    st.floats(0, 3),
    st.sampled_from(["gauss", "exp", "linear"]),
)
def test_factors_lie_between_one_and_the_ceiling(moments, weight, function):
    recency = Recency(weight=weight, function=function, origin=0)
    factors = recency.factors(np.array([*moments, MISSING_DATE], dtype=np.int64))
    assert np.all(factors >= 1.0) and np.all(factors <= recency.ceiling)
    assert factors[-1] == 1.0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"scale": "soon"}, "'soon'"),
        ({"scale": "0d"}, "'0d'"),
        ({"offset": -5}, "-5"),
        ({"decay": 1.5}, "1.5"),
        ({"decay": 0}, "0"),
        ({"function": "cubic"}, "'cubic'"),
        ({"weight": -1}, "-1"),
        ({"weight": float("nan")}, "nan"),
        ({"origin": "yesterday"}, "'yesterday'"),
    ],
)
def test_a_bad_recency_names_the_bad_value(arguments, named):
    with pytest.raises(ValueError, match=named):
        Recency(**arguments)
    with pytest.raises(ValueError, match="recency must be"):
        Ranking(recency="30d")  # type: ignore[arg-type]


def test_durations_read_as_elasticsearch_writes_them():
    assert Recency(scale="12h").scale == 12 * 3600
    assert Recency(scale="2w", offset=timedelta(hours=6)).scale == 14 * DAY
    assert Recency(scale=90).scale == 90  # seconds
    # A copy keeps its values (the seconds are not read again as another unit).
    assert Recency(scale="30d").at(0).scale == 30 * DAY


@pytest.fixture
def news(tmp_path):
    ix = searchlib.Index.create(tmp_path / "ix")
    body = "banjir melanda kota setelah hujan deras semalaman, warga jakarta mengungsi"
    ix.add(
        [
            {"id": "old", "title": "Banjir", "body": body, "published": _at(6000)},
            {"id": "new", "title": "Banjir", "body": body, "published": _at(1)},
            {"id": "undated", "title": "Banjir", "body": body},
            {
                "id": "deep-old",
                "title": "Banjir Jakarta: banjir besar, Jakarta lumpuh",
                "body": "banjir jakarta banjir jakarta " + body,
                "published": _at(4000),
            },
            {
                "id": "marginal-new",
                "title": "Pasar saham",
                "body": "harga saham naik; di jakarta hujan",
                "published": _at(0),
            },
            *(
                {"id": f"other{n}", "title": f"Sepak bola {n}", "body": "pertandingan usai"}
                for n in range(40)
            ),
        ]
    )
    return ix


def test_near_ties_go_to_the_newer_article_and_far_better_old_ones_stay_above(news):
    plain = news.search("banjir jakarta", snippets=False)
    assert plain.ids()[:1] == ["deep-old"]
    assert plain.ids()[1:4] == ["old", "new", "undated"]  # one score: index order
    fresh = Ranking(recency=Recency(origin=ORIGIN))
    results = news.search("banjir jakarta", ranking=fresh, snippets=False)
    assert results.ids() == ["deep-old", "new", "old", "undated", "marginal-new"]
    # A decay multiplied in would have put every old article below the marginal new one.
    assert by_score(results)["old"] > 2 * by_score(results)["marginal-new"]
    by_id = {hit.id: hit for hit in results}
    tie = {hit.id: hit.score for hit in plain}
    assert by_id["new"].score == pytest.approx(tie["new"] * by_id["new"].recency)
    assert by_id["new"].recency > 1.09 and by_id["old"].recency == pytest.approx(1.0)
    assert by_id["undated"].recency == 1.0  # undated: no gain, never a loss
    assert results.to_dict()["hits"][1]["recency"] == by_id["new"].recency
    assert plain.hits[0].recency is None and "recency" not in plain.to_dict()["hits"][0]


def by_score(results) -> dict[str, float]:
    return {hit.id: hit.score for hit in results}


def test_without_an_origin_recency_is_measured_from_the_search(news):
    news.add(
        {
            "id": "today",
            "title": "Banjir Jakarta",
            "body": "banjir jakarta",
            "published": datetime.now(timezone.utc).isoformat(),
        }
    )
    results = news.search("banjir jakarta", ranking=Ranking(recency=Recency()), snippets=False)
    assert {hit.id: hit.recency for hit in results}["today"] == pytest.approx(1.1)


def test_sorted_by_date_recency_only_changes_scores(news):
    fresh = Ranking(recency=Recency(origin=ORIGIN))
    plain = news.search("banjir", sort="newest", snippets=False)
    blended = news.search("banjir", sort="newest", ranking=fresh, snippets=False)
    assert plain.ids() == blended.ids()


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    ix = searchlib.Index.create(tmp_path_factory.mktemp("recency") / "ix", workers=1)
    rng = random.Random(3)
    docs = _corpus(500)
    for doc in docs:
        doc["published"] = None if rng.random() < 0.1 else _at(rng.uniform(0, 900))
    for start in range(0, len(docs), 125):
        ix.add(docs[start : start + 125])
    return ix, docs


@pytest.mark.parametrize("bound_from", [execute_module.BOUND_FROM, 0])
@pytest.mark.parametrize("coordination", [True, False])
def test_pruning_with_recency_returns_the_exhaustive_pages(
    dated, coordination, bound_from, monkeypatch
):
    monkeypatch.setattr(execute_module, "BOUND_FROM", bound_from)
    monkeypatch.setattr(execute_module, "BOUND_UPTO", 1.0)  # however many candidates
    ix, docs = dated
    snapshot = ix._engine.snapshot()
    rng = random.Random(29)
    compared = 0
    for _ in range(80):
        words = " ".join(d["title"] for d in rng.sample(docs, 2)).split()
        query = " ".join(rng.sample(words, min(len(words), rng.choice((1, 2, 3, 5)))))
        recency = Recency(
            scale=rng.choice(("3d", "30d", "300d")),
            weight=rng.choice((0.05, 0.3, 2.0)),
            function=rng.choice(("gauss", "exp", "linear")),
            origin=ORIGIN,
        )
        ranking = Ranking(coordination=coordination, recency=recency)
        plan = compile_query(parse_query(query), snapshot, ix.analyzer, ranking)
        if plan.root is None:
            continue
        wanted = rng.choice((1, 5, 10))
        pruned = execute(plan.root, snapshot, ranking, wanted)
        full = execute(plan.root, snapshot, ranking, wanted, prune=False)
        assert pruned.top.tolist() == full.top.tolist(), query
        np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
        compared += len(full.top)
    assert compared > 200


def test_recency_bounds_prune_even_a_one_word_query(tmp_path, monkeypatch):
    # One word: every bound was alike, so nothing was pruned by bounds; with recency each
    # candidate's bound is its factor times the word's, and the stale ones need no score.
    # Fails when the factors are left out of the bounds, not only when results change.
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    rng = random.Random(8)
    filler = ["kota", "warga", "hujan", "pasar", "jalan", "sekolah"]
    ix.add(
        {
            "id": f"d{n}",
            "title": "banjir " + " ".join(rng.choices(filler, k=3)),
            "body": " ".join(rng.choices(filler, k=rng.randint(3, 30))),
            "published": _at(rng.uniform(0, 900)),
        }
        for n in range(2_000)
    )
    snapshot = ix._engine.snapshot()
    monkeypatch.setattr(execute_module, "BOUND_FROM", 0)
    monkeypatch.setattr(execute_module, "BOUND_UPTO", 1.0)
    ranking = Ranking(recency=Recency(scale="10d", weight=5.0, origin=ORIGIN))
    plan = compile_query(parse_query("banjir"), snapshot, ix.analyzer, ranking)
    pruned = execute(plan.root, snapshot, ranking, 5)
    full = execute(plan.root, snapshot, ranking, 5, prune=False)
    assert pruned.top.tolist() == full.top.tolist()
    assert full.scored == len(full.matches) == 2_000
    assert pruned.scored < 2_000 * 0.5, pruned.scored


def test_the_cli_and_the_api_offer_fresh(news, tmp_path):
    runner = CliRunner()
    command = ["--index", str(news.path), "query", "banjir", "jakarta", "--fresh", "--json"]
    out = runner.invoke(cli, [*command, "--no-collapse"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)["hits"]
    assert all("recency" in hit for hit in hits)
    assert [h["id"] for h in hits].index("new") < [h["id"] for h in hits].index("old")
    # Collapsed (the CLI's default), the copies of one text are one hit.
    collapsed = json.loads(runner.invoke(cli, command).output)["hits"]
    groups = [{h["id"], *(copy["id"] for copy in h["duplicates"])} for h in collapsed]
    assert [group for group in groups if {"new", "old"} & group] == [
        {"new", "old", "undated", "deep-old"}
    ]
    shown = runner.invoke(
        cli, ["--index", str(news.path), "query", "banjir", "--fresh", "--explain"]
    )
    assert shown.exit_code == 0 and "recency x1." in shown.output
