"""Search as you type: completions of the last word, and whole titles."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import searchlib
from searchlib.cli import cli
from searchlib.engine.arrays_read import FieldArrays
from searchlib.errors import QueryError

from .test_equivalence import _corpus

ARTICLES = [
    {"id": "a", "title": "Banjir rendam Jakarta", "body": "Banjir merendam Jakarta.",
     "published": "2024-01-01"},
    {"id": "b", "title": "Banjir di Jambi", "body": "Banjir melanda Jambi dan Jakarta.",
     "published": "2024-02-01"},
    {"id": "c", "title": "Jalan tol Jakarta dibuka", "body": "Jalan tol Jakarta dibuka.",
     "published": "2024-03-01"},
    {"id": "d", "title": "Harga beras naik", "body": "Jakarta: harga beras naik lagi.",
     "published": "2024-04-01"},
]  # fmt: skip


@pytest.fixture
def index(tmp_path):
    with searchlib.Index.create(tmp_path / "ix") as ix:
        ix.add(ARTICLES[:2])
        ix.add(ARTICLES[2:])  # two segments
        yield ix


def test_the_last_word_is_completed_most_frequent_first(index):
    found = index.complete("ja")
    assert [c.word for c in found.words][:3] == ["jakarta", "jalan", "jambi"]
    assert found.words[0].count == 4 and found.words[0].text == "jakarta"


def test_words_typed_before_prefer_what_occurs_with_them_in_titles(index):
    found = index.complete("banjir ja")
    # jakarta is in more articles, but jambi is in a title with banjir as often.
    assert {c.word for c in found.words[:2]} == {"jakarta", "jambi"}
    assert all(c.together == 1 for c in found.words[:2])
    assert found.words[0].text.startswith("banjir ")
    # Titles hold every word typed and the best completion: banjir and jakarta.
    assert [t.id for t in found.titles] == ["a"]


def test_titles_are_the_newest_holding_the_words(index):
    found = index.complete("jakarta")
    assert [t.id for t in found.titles] == ["c", "a"]  # newest first, titles with jakarta
    assert found.titles[0].title == "Jalan tol Jakarta dibuka"


def test_a_trailing_space_offers_titles_not_words(index):
    found = index.complete("banjir ")
    assert found.words == [] and {t.id for t in found.titles} == {"a", "b"}


def test_stopwords_complete_too(index):
    assert "di" in [c.word for c in index.complete("d").words]


def test_deleted_articles_are_not_offered_as_titles(index):
    index.delete("c")
    assert "c" not in [t.id for t in index.complete("jakarta").titles]


def test_nothing_to_complete(index):
    assert index.complete("").words == [] and index.complete("").titles == []
    assert index.complete("zzz").words == []


@pytest.mark.parametrize(
    ("text", "limit"), [(3, 8), ("ja", -1), ("ja", 51), ("ja", True), ("ja", "8")]
)
def test_bad_arguments_are_query_errors(index, text, limit):
    with pytest.raises(QueryError):
        index.complete(text, limit)


def test_completion_never_scans_a_vocabulary(index, monkeypatch):
    def scan(*_args, **_kwargs):
        raise AssertionError("a vocabulary scan")

    monkeypatch.setattr(FieldArrays, "vocabulary", scan)
    monkeypatch.setattr(FieldArrays, "terms_with_prefix", scan)
    assert index.complete("banjir ja").words
    assert index.complete("j").words  # a one-byte prefix: the segment's precomputed tops


def test_short_prefix_tops_are_computed_once_per_segment(index):
    index.complete("j")
    snapshot = index._engine.snapshot()
    tops = [c.arrays.field("body_exact").prefixes._short for c in snapshot._segments]
    assert all(t is not None for t in tops)
    index.add({"id": "e", "title": "Baru", "body": "baru"})  # a new commit, new snapshot
    index.complete("j")
    again = [
        c.arrays.field("body_exact").prefixes._short for c in index._engine.snapshot()._segments
    ]
    assert all(any(a is t for a in again) for t in tops)  # the old segments' tables kept


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="abdegikmnprstu", min_size=1, max_size=3))
def test_frequent_with_prefix_is_the_brute_force_top(prefix):
    snapshot = _SHARED["ix"]._engine.snapshot()
    found = snapshot.frequent_with_prefix("body_exact", prefix, 5)
    counts = snapshot.prefix_counts("body_exact", prefix)  # every term: the brute force
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
    assert found == expected


_SHARED: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _shared_index(tmp_path_factory):
    with searchlib.Index.create(tmp_path_factory.mktemp("complete") / "ix", workers=1) as ix:
        docs = _corpus(300)
        for start in range(0, len(docs), 100):
            ix.add(docs[start : start + 100])
        _SHARED["ix"] = ix
        yield
        _SHARED.clear()


def test_cli_and_http_complete(index, tmp_path):
    from starlette.testclient import TestClient

    from searchlib.server import create_app

    runner = CliRunner()
    shown = runner.invoke(cli, ["--index", str(index.path), "complete", "banjir ja"])
    assert shown.exit_code == 0 and "banjir ja" in shown.output and "» " in shown.output
    data = json.loads(
        runner.invoke(cli, ["--index", str(index.path), "complete", "ja", "--json"]).output
    )
    assert data["words"][0]["word"] == "jakarta"
    with TestClient(create_app(index)) as client:
        answer = client.get("/complete", params={"q": "banjir ja", "limit": 2}).json()
        assert len(answer["words"]) == 2 and answer["titles"][0]["id"] in {"a", "b"}
        assert client.get("/complete", params={"q": "ja", "limit": 99}).status_code == 400


def test_a_server_prepares_completion_tables_as_it_starts(index):
    from starlette.testclient import TestClient

    from searchlib.server import create_app

    segments = index._engine.snapshot()._segments
    assert all(c.arrays.field("body_exact").prefixes._short is None for c in segments)
    with TestClient(create_app(index)):  # runs the app's startup
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            c.arrays.field("body_exact").prefixes._short is None for c in segments
        ):
            time.sleep(0.02)
    assert all(c.arrays.field("body_exact").prefixes._short is not None for c in segments)


def test_completing_while_a_large_ingest_runs(tmp_path):
    import threading

    docs = _corpus(1200)
    with searchlib.Index.create(tmp_path / "live", workers=1) as ix:
        ix.add(docs[:100])
        failures: list[BaseException] = []

        def ingest():
            try:
                for start in range(100, len(docs), 100):  # commits and background merges
                    ix.add(docs[start : start + 100])
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        writer = threading.Thread(target=ingest)
        writer.start()
        answered = 0
        while writer.is_alive():
            answered += bool(ix.complete("pem").words)
        writer.join()
        assert not failures and answered > 0
        ix.wait_for_merges()
        final = ix.complete("pem")
        expected = ix._engine.snapshot().frequent_with_prefix("body_exact", "pem", 8)
        assert final.words and final.words[0].count >= expected[0][1]
