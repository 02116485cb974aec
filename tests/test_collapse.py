"""Syndicated copies: signatures at index time, collapsed searches, Index.duplicates."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import searchlib
from searchlib.analysis import Analyzer
from searchlib.cli import cli
from searchlib.engine.signature import (
    DEFAULT_SIMILARITY,
    SIGNATURE_BYTES,
    Signer,
    agreeing_bytes,
    similarity,
)
from searchlib.ingest import parse_article_text
from searchlib.query import collapse as collapse_module
from searchlib.query.collapse import MAX_COLLAPSE_DEPTH, group_copies

from .conftest import SEEDS

SEED = parse_article_text(next(SEEDS.glob("*.txt")).read_text("utf-8"))
PARAGRAPHS = [p for p in SEED["body"].split("\n") if p.strip()]
WORDS = [
    "pemerintah",
    "kota",
    "warga",
    "banjir",
    "jalan",
    "rumah",
    "sekolah",
    "pasar",
    "harga",
    "beras",
    "menteri",
    "rapat",
    "kebijakan",
    "anggaran",
    "daerah",
    "desa",
    "petani",
    "nelayan",
    "listrik",
    "air",
    "bersih",
    "pelabuhan",
    "kapal",
    "polisi",
    "pengadilan",
    "saksi",
    "hakim",
    "gubernur",
    "bupati",
    "dewan",
    "partai",
    "pemilu",
    "suara",
    "kampanye",
]


def story(rng: random.Random, words: int = 120) -> str:
    """A different story on the same topics: the same words, in another order."""
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ".")
    return " ".join(sentences)


def copies_of_seed() -> list[dict]:
    """The seed article and the copies portals would run of it."""
    body = SEED["body"]
    base = {"title": SEED["title"], "category": "internasional"}
    return [
        {**base, "id": "original", "body": body, "source": "jpnn.com",
         "published": "2021-08-30T10:00:00"},
        {**base, "id": "dateline", "source": "antara", "published": "2021-08-30T11:00:00",
         "body": body.replace("jpnn.com, MOSKOW - ", "Moskow (ANTARA) - ", 1)},
        {**base, "id": "trimmed", "source": "tempo", "published": "2021-08-30T12:00:00",
         "body": "\n".join(PARAGRAPHS[:-1])},
        {**base, "id": "portal", "source": "kompas", "published": "2021-08-31T08:00:00",
         "body": body.replace("jpnn.com", "KOMPAS.com") + "\nBaca juga: Taliban di Kabul"},
    ]  # fmt: skip


def others(count: int, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"id": f"other{i}", "title": f"Berita {i} Kabul Rusia", "body": story(rng),
         "source": "lain", "published": "2021-08-01"}
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def syndicated(tmp_path):
    ix = searchlib.Index.create(tmp_path / "ix")
    ix.add(copies_of_seed() + others(30))
    yield ix
    ix.close()


def signature(text: str) -> bytes:
    return Signer().sign(Analyzer().index_text(text).words)


def shared(a: bytes, b: bytes) -> int:
    return int(np.count_nonzero(np.frombuffer(a, np.uint8) == np.frombuffer(b, np.uint8)))


# -- signatures ----------------------------------------------------------------------


def test_copies_share_most_bytes_and_other_stories_few():
    original = signature(SEED["body"])
    assert len(original) == SIGNATURE_BYTES and any(original)
    assert signature(SEED["body"]) == original
    copy = signature("Moskow (ANTARA) - " + "\n".join(PARAGRAPHS[1:-1]))
    assert shared(original, copy) >= agreeing_bytes(DEFAULT_SIMILARITY)
    other = signature(story(random.Random(1), 300))
    assert shared(original, other) < agreeing_bytes(0.2)


def test_a_short_body_is_left_unsigned():
    assert signature("Banjir di Jakarta.") == bytes(SIGNATURE_BYTES)
    assert signature("") == bytes(SIGNATURE_BYTES)


def test_signatures_do_not_depend_on_the_process_hash_seed():
    # Segments written by different processes are compared: Python's salted hash()
    # must play no part.
    code = (
        "from searchlib.analysis import Analyzer; from searchlib.engine.signature import "
        "Signer; import sys; sys.stdout.write(Signer().sign(Analyzer().index_text("
        "open(sys.argv[1]).read()).words).hex())"
    )
    seed_path = next(SEEDS.glob("*.txt"))
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code, str(seed_path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        ).stdout
        for hash_seed in (1, 2)
    }
    assert len(outputs) == 1
    assert outputs == {signature(seed_path.read_text("utf-8")).hex()}


@given(st.floats(min_value=0.01, max_value=1.0))
def test_the_bytes_asked_for_estimate_at_least_the_similarity(threshold):
    needed = agreeing_bytes(threshold)
    assert 1 <= needed <= SIGNATURE_BYTES
    assert similarity(needed) >= threshold - 1e-9
    assert needed == 1 or similarity(needed - 1) < threshold


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, float("nan")])
def test_a_similarity_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="similarity"):
        agreeing_bytes(bad)


# -- grouping ------------------------------------------------------------------------


def test_groups_link_copies_of_copies_and_leave_unsigned_alone():
    rng = np.random.default_rng(3)
    a = rng.integers(1, 256, SIGNATURE_BYTES, dtype=np.uint8)
    b = a.copy()
    b[:24] = rng.integers(1, 256, 24, dtype=np.uint8)  # shares 40 bytes with a
    c = b.copy()
    c[24:48] = rng.integers(1, 256, 24, dtype=np.uint8)  # 40 with b, 16 with a
    other = rng.integers(1, 256, SIGNATURE_BYTES, dtype=np.uint8)
    unsigned = np.zeros(SIGNATURE_BYTES, np.uint8)
    rows = np.stack([other, c, unsigned, a, unsigned, b])
    groups = group_copies(rows, 38)
    assert [g.leader for g in groups] == [0, 1, 2, 4]
    assert sorted(row for row, _shared in groups[1].copies) == [3, 5]
    assert dict(groups[1].copies)[5] == 40  # bytes shared with the leader, c


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=40),
    st.integers(0, 2**32 - 1),
    st.integers(1, SIGNATURE_BYTES),
)
def test_groups_are_the_single_link_closure_led_by_their_first(stories, seed, at_least):
    # Rows drawn from six stories (5: unsigned), each a noisy copy of its story.
    rng = np.random.default_rng(seed)
    bases = rng.integers(1, 256, (6, SIGNATURE_BYTES), dtype=np.uint8)
    rows = bases[stories].copy()
    noise = rng.random(rows.shape) < 0.3
    rows[noise] = rng.integers(1, 256, int(noise.sum()), dtype=np.uint8)
    rows[np.asarray(stories) == 5] = 0
    groups = group_copies(rows, at_least)
    group_of = {}
    for number, group in enumerate(groups):
        members = [group.leader, *(row for row, _shared in group.copies)]
        assert group.leader == min(members)
        for row, shared in group.copies:
            assert shared == int(np.count_nonzero(rows[row] == rows[group.leader]))
        for row in members:
            assert row not in group_of
            group_of[row] = number
    assert sorted(group_of) == list(range(len(rows)))
    assert [g.leader for g in groups] == sorted(g.leader for g in groups)
    signed = rows.any(axis=1)
    for a in range(len(rows)):
        for b in range(a):
            linked = np.count_nonzero(rows[a] == rows[b]) >= at_least
            if signed[a] and signed[b] and linked:
                assert group_of[a] == group_of[b]
        if not signed[a]:
            assert not groups[group_of[a]].copies and groups[group_of[a]].leader == a
    # Each group is connected: every member reached from its leader by links.
    for group in groups:
        members = {group.leader, *(row for row, _ in group.copies)}
        reached, frontier = {group.leader}, [group.leader]
        while frontier:
            row = frontier.pop()
            for other in members - reached:
                if np.count_nonzero(rows[row] == rows[other]) >= at_least:
                    reached.add(other)
                    frontier.append(other)
        assert reached == members


def test_grouping_compares_across_blocks(monkeypatch):
    monkeypatch.setattr(collapse_module, "_BLOCK", 2)
    rng = np.random.default_rng(4)
    a = rng.integers(1, 256, SIGNATURE_BYTES, dtype=np.uint8)
    rows = np.stack([a, *rng.integers(1, 256, (4, SIGNATURE_BYTES), dtype=np.uint8), a])
    groups = group_copies(rows, 60)
    assert [g.leader for g in groups] == [0, 1, 2, 3, 4]
    assert groups[0].copies == [(5, SIGNATURE_BYTES)]


# -- searching -----------------------------------------------------------------------


def test_a_collapsed_search_shows_one_hit_per_story_with_its_copies(syndicated):
    plain = syndicated.search("penerbangan evakuasi Kabul", limit=10)
    assert {"original", "dateline", "trimmed", "portal"} <= set(plain.ids())
    assert all(hit.duplicates is None for hit in plain)
    collapsed = syndicated.search("penerbangan evakuasi Kabul", limit=10, collapse=True)
    story_ids = {"original", "dateline", "trimmed", "portal"}
    shown = [hit for hit in collapsed if hit.id in story_ids]
    assert len(shown) == 1
    best = shown[0]
    assert best.id == plain.ids()[0]  # the best ranked copy stands for the story
    assert {c.id for c in best.duplicates} == story_ids - {best.id}
    sources = {c.id: c.source for c in best.duplicates}
    assert sources.get("dateline", "antara") == "antara"
    dates = {c.id: c.published for c in best.duplicates}
    assert dates.get("portal", "2021-08-31T08:00:00+00:00") == "2021-08-31T08:00:00+00:00"
    assert all(DEFAULT_SIMILARITY <= c.similarity <= 1 for c in best.duplicates)
    # The other stories share their words but not their phrases: none collapsed.
    assert all(hit.duplicates == [] for hit in collapsed if hit.id not in story_ids)
    assert collapsed.total == plain.total  # every match still counted
    data = collapsed.to_dict()["hits"][0]
    assert {d["id"] for d in data["duplicates"]} == story_ids - {best.id}


def test_collapsed_pages_follow_on(syndicated):
    first = syndicated.search("Kabul Rusia", limit=5, collapse=True)
    second = syndicated.search("Kabul Rusia", limit=5, offset=5, collapse=True)
    groups = [[h.id, *(c.id for c in h.duplicates)] for h in [*first, *second]]
    flat = [doc_id for group in groups for doc_id in group]
    assert len(flat) == len(set(flat))  # no article on both pages
    assert [h.rank for h in second] == [6, 7, 8, 9, 10]
    everything = syndicated.search("Kabul Rusia", limit=10, collapse=True)
    assert everything.ids() == first.ids() + second.ids()


def test_a_window_full_of_copies_grows_until_the_page_is_full(tmp_path):
    # 80 copies of one story outrank everything else: the first window (50) holds
    # one group, so the search must rank further to fill the page.
    body = SEED["body"]
    copies = [
        {"id": f"copy{i}", "title": "Penerbangan evakuasi Kabul Kabul Kabul",
         "body": f"Kabul {i} - " + body}
        for i in range(80)
    ]  # fmt: skip
    with searchlib.Index.create(tmp_path / "ix") as ix:
        ix.add(copies + others(20))
        results = ix.search("Kabul", limit=10, collapse=True)
        assert len(results) == 10
        assert len(results[0].duplicates) == 79
        assert [h.id for h in results[1:]] == [
            h.id for h in ix.search("Kabul", limit=90) if not h.id.startswith("copy")
        ][:9]


def test_sorted_by_date_the_newest_copy_stands_for_the_story(syndicated):
    results = syndicated.search("penerbangan evakuasi", sort="newest", collapse=True)
    assert results[0].id == "portal"
    assert {c.id for c in results[0].duplicates} == {"original", "dateline", "trimmed"}


def test_collapse_arguments_are_checked(syndicated):
    with pytest.raises(searchlib.QueryError, match="collapse"):
        syndicated.search("Kabul", collapse="yes")
    with pytest.raises(searchlib.QueryError, match="collapse"):
        syndicated.search("Kabul", collapse=1.5)
    with pytest.raises(searchlib.QueryError, match=str(MAX_COLLAPSE_DEPTH)):
        syndicated.search("Kabul", limit=10, offset=MAX_COLLAPSE_DEPTH, collapse=True)
    # A stricter similarity keeps the looser copies apart.
    strict = syndicated.search("penerbangan evakuasi Kabul", collapse=0.99)
    assert len([h for h in strict if h.id in {"original", "dateline", "trimmed"}]) >= 2


# -- Index.duplicates ----------------------------------------------------------------


def test_duplicates_lists_the_copies_most_similar_first(syndicated):
    found = syndicated.duplicates("original")
    assert {c.id for c in found} == {"dateline", "trimmed", "portal"}
    assert [c.similarity for c in found] == sorted((c.similarity for c in found), reverse=True)
    assert found[0].id == "dateline"  # one dateline changed: the closest copy
    assert syndicated.duplicates("other3") == []
    assert {c.id for c in syndicated.duplicates("original", similarity=0.95)} <= {"dateline"}


def test_duplicates_of_a_missing_article_or_with_a_bad_similarity(syndicated):
    with pytest.raises(searchlib.QueryError, match="nope"):
        syndicated.duplicates("nope")
    with pytest.raises(searchlib.QueryError, match="similarity"):
        syndicated.duplicates("original", similarity=0)
    with pytest.raises(searchlib.QueryError, match="similarity"):
        syndicated.duplicates("original", similarity=True)


def test_deleted_copies_are_not_listed(syndicated):
    syndicated.delete("trimmed")
    assert "trimmed" not in {c.id for c in syndicated.duplicates("original")}


def test_signatures_survive_merges(tmp_path):
    with searchlib.Index.create(tmp_path / "ix") as ix:
        for record in copies_of_seed():
            ix.add([record, *others(3, seed=len(record["id"]))])
        before = {c.id for c in ix.duplicates("original")}
        ix.optimize()
        assert ix.stats()["segments"] == 1
        assert (
            {c.id for c in ix.duplicates("original")}
            == before
            == {
                "dateline",
                "trimmed",
                "portal",
            }
        )


# -- shells --------------------------------------------------------------------------


def test_cli_collapses_by_default_and_lists_duplicates(tmp_path):
    path = tmp_path / "ix"
    with searchlib.Index.create(path) as ix:
        ix.add(copies_of_seed() + others(5))
    runner = CliRunner()
    shown = runner.invoke(cli, ["--index", str(path), "query", "penerbangan evakuasi", "--json"])
    assert shown.exit_code == 0, shown.output
    hits = json.loads(shown.output)["hits"]
    assert len([h for h in hits if not h["id"].startswith("other")]) == 1
    assert len(hits[0]["duplicates"]) == 3
    every = runner.invoke(
        cli, ["--index", str(path), "query", "penerbangan evakuasi", "--no-collapse", "--json"]
    )
    assert len([h for h in json.loads(every.output)["hits"] if h["id"][:5] != "other"]) == 4
    text = runner.invoke(cli, ["--index", str(path), "query", "penerbangan evakuasi"])
    assert "+ 3 copies" in text.output and "search duplicates" in text.output
    listed = runner.invoke(cli, ["--index", str(path), "duplicates", "original"])
    assert listed.exit_code == 0
    assert "3 copies of original" in listed.output and "antara" in listed.output
    as_json = runner.invoke(cli, ["--index", str(path), "duplicates", "original", "--json"])
    assert {c["id"] for c in json.loads(as_json.output)} == {"dateline", "trimmed", "portal"}
    missing = runner.invoke(cli, ["--index", str(path), "duplicates", "nope"])
    assert missing.exit_code != 0 and "nope" in missing.output
    assert "Traceback" not in missing.output


def test_http_collapses_when_asked_and_lists_duplicates(syndicated):
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from searchlib.server import create_app

    client = TestClient(create_app(syndicated))
    query = {"q": "penerbangan evakuasi Kabul"}
    plain = client.get("/search", params=query).json()
    assert all("duplicates" not in h for h in plain["hits"])
    collapsed = client.get("/search", params={**query, "collapse": "true"}).json()
    top = collapsed["hits"][0]
    assert {d["id"] for d in top["duplicates"]} | {top["id"]} == {
        "original", "dateline", "trimmed", "portal"
    }  # fmt: skip
    assert set(top["duplicates"][0]) == {"id", "source", "published", "similarity"}
    listed = client.get("/articles/original/duplicates").json()
    assert listed["id"] == "original"
    assert {d["id"] for d in listed["duplicates"]} == {"dateline", "trimmed", "portal"}
    strict = client.get("/articles/original/duplicates", params={"similarity": "0.99"}).json()
    assert len(strict["duplicates"]) <= 1
    assert client.get("/articles/nope/duplicates").status_code == 404
    bad = client.get("/articles/original/duplicates", params={"similarity": "lots"})
    assert bad.status_code == 400 and "similarity" in bad.json()["error"]
    bad = client.get("/search", params={**query, "collapse": "maybe"})
    assert bad.status_code == 400 and "collapse" in bad.json()["error"]
    spec = client.get("/openapi.json").json()
    assert "/articles/{id}/duplicates" in spec["paths"]
    assert "collapse" in {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
