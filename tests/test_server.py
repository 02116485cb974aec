"""The HTTP API through Starlette's test client: every endpoint and error."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

from searchlib import Index
from searchlib.server import Limits, create_app


@pytest.fixture
def client(index) -> TestClient:
    return TestClient(create_app(index))


@pytest.fixture
def secured(index) -> TestClient:
    return TestClient(create_app(index, token="rahasia", limits=Limits(body_bytes=2000)))


def test_search_endpoint(client):
    response = client.get("/search", params={"q": "evakuasi kabul"})
    assert response.status_code == 200
    data = response.json()
    assert data["total"] == 1 and data["hits"][0]["id"] == "a2"
    snippet = data["hits"][0]["snippet"]
    assert "<mark>" in snippet["html"] and snippet["spans"]
    assert set(data) >= {"hits", "total", "scored", "facets", "suggestion", "took_ms"}
    assert data["facets"] == {}  # counted only when asked for
    title = data["hits"][0]["title_snippet"]
    assert title["html"].count("<mark>") == 2 and title["text"] == data["hits"][0]["title"]


def test_search_collects_the_facets_and_suggestion_asked_for(client):
    data = client.get("/search", params={"q": "evakuasii", "facets": "category,source"}).json()
    assert set(data["facets"]) == {"category", "source"} and data["suggestion"] is None
    data = client.get("/search", params={"q": "evakuas1", "suggest": "true"}).json()
    assert data["suggestion"] == "evakuasi" and data["facets"] == {}
    bad = client.get("/search", params={"q": "gempa", "facets": "author"})
    assert bad.status_code == 400 and "'author'" in bad.json()["error"]
    bad = client.get("/search", params={"q": "gempa", "suggest": "maybe"})
    assert bad.status_code == 400 and "'maybe'" in bad.json()["error"]


def test_titles_are_escaped_in_their_highlight(tmp_path):
    ix = Index.create(tmp_path / "ix")
    ix.add({"id": "x", "title": "<b>Evakuasi</b> & Kabul", "body": "evakuasi"})
    data = TestClient(create_app(ix)).get("/search", params={"q": "evakuasi"}).json()
    html = data["hits"][0]["title_snippet"]["html"]
    assert html == "&lt;b&gt;<mark>Evakuasi</mark>&lt;/b&gt; &amp; Kabul"


def test_search_filters_sort_and_paging(client):
    data = client.get(
        "/search",
        params={
            "q": "pemerintah OR harga",
            "category": "ekonomi",
            "sort": "newest",
            "limit": 1,
            "offset": 1,
        },
    ).json()
    assert data["total"] == 2 and [h["id"] for h in data["hits"]] == ["a4"]
    data = client.get(
        "/search",
        params={"q": "gempa", "since": "2021-06", "until": "2021-06-30", "source": "cnn indonesia"},
    ).json()
    assert [h["id"] for h in data["hits"]] == ["a8"]


def test_fresh_blends_recency_into_the_scores(client):
    plain = client.get("/search", params={"q": "pemerintah"}).json()
    fresh = client.get("/search", params={"q": "pemerintah", "fresh": "true"}).json()
    assert all("recency" not in h for h in plain["hits"])
    assert fresh["hits"] and all(h["recency"] >= 1.0 for h in fresh["hits"])
    assert fresh["total"] == plain["total"]
    bad = client.get("/search", params={"q": "pemerintah", "fresh": "soon"})
    assert bad.status_code == 400 and "fresh" in bad.json()["error"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": "x", "limit": "many"}, "limit"),
        ({"q": "x", "limit": 1000}, "limit"),
        ({"q": "x", "offset": -1}, "offset"),
        ({"q": "x", "sort": "random"}, "sort"),
        ({"q": "published:2021-99"}, "invalid date"),
        ({"q": "x" * 3000}, "longer"),
    ],
)
def test_search_errors_are_json_400(client, params, fragment):
    response = client.get("/search", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_get_article_and_similar(client):
    assert client.get("/articles/a1").json()["title"].startswith("Pemerintah")
    assert client.get("/articles/nope").status_code == 404
    similar = client.get("/articles/a1/similar")
    assert similar.status_code == 200 and "a1" not in [h["id"] for h in similar.json()["hits"]]
    assert client.get("/articles/nope/similar").status_code == 404


def test_post_json_object_array_and_lines(client):
    one = client.post("/articles", json={"id": "n1", "body": "banjir bandang"})
    assert one.json() == {"added": 1, "errors": []}
    many = client.post("/articles", json=[{"id": "n2", "body": "banjir"}, {"id": 5, "body": 1}])
    assert many.status_code == 200
    assert many.json()["added"] == 1 and "'body'" in many.json()["errors"][0]["error"]
    lines = '{"id": "n3", "body": "banjir lagi"}\n{broken\n{"id": "n4", "body": "banjir"}\n'
    response = client.post(
        "/articles", content=lines, headers={"content-type": "application/x-ndjson"}
    )
    assert response.json()["added"] == 2 and response.json()["errors"][0]["line"] == 2
    assert client.get("/search", params={"q": "banjir"}).json()["total"] == 4


def test_post_errors(client):
    assert client.post("/articles", content=b"\xff\xfe").status_code == 400
    assert client.post("/articles", content=b"{not json").status_code == 400
    bad = client.post("/articles", json=[{"body": "no id"}])
    assert bad.status_code == 400 and bad.json()["added"] == 0


def test_delete(client):
    assert client.delete("/articles/a1").json() == {"deleted": 1, "id": "a1"}
    assert client.delete("/articles/a1").status_code == 404


def test_token_protects_writes_only(secured):
    assert secured.get("/search", params={"q": "gempa"}).status_code == 200
    assert secured.post("/articles", json={"id": "x", "body": "y"}).status_code == 401
    assert secured.delete("/articles/a1").status_code == 401
    wrong = {"Authorization": "Bearer salah"}
    assert secured.delete("/articles/a1", headers=wrong).status_code == 401
    good = {"Authorization": "Bearer rahasia"}
    assert secured.post("/articles", json={"id": "x", "body": "y"}, headers=good).status_code == 200
    assert secured.delete("/articles/x", headers=good).status_code == 200


def test_body_size_limit(secured):
    body = json.dumps({"id": "big", "body": "x" * 5000})
    response = secured.post("/articles", content=body, headers={"Authorization": "Bearer rahasia"})
    assert response.status_code == 413


def test_health_openapi_page_and_unknown_routes(client):
    assert client.get("/health").json()["articles"] == 8
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/search" in spec["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text and "viewport" in page.text
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]
    assert client.put("/search").status_code == 405


def test_serve_refuses_public_address_without_token(tmp_path):
    from click.testing import CliRunner

    from searchlib.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--index", str(tmp_path / "ix"), "serve", "--host", "0.0.0.0"],
        env={"SEARCHLIB_TOKEN": ""},
    )
    assert result.exit_code == 2 and "token" in result.output
