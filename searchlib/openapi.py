"""The HTTP API's OpenAPI 3 description (``GET /openapi.json``; the docs' HTTP reference
is generated from it): every endpoint ``server.create_app`` serves, its parameters and
responses."""

from __future__ import annotations

from typing import Any

from searchlib import __version__

__all__ = ["OPENAPI"]


def _response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {}}}


def _query_param(name: str, kind: str, description: str, **schema: Any) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": name == "q",
        "schema": {"type": kind, **schema},
        "description": description,
    }


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "the article's id (may contain slashes)",
}

_SEARCH_PARAMETERS = [
    _query_param("q", "string", "the query, in the query syntax; at most 2,000 characters"),
    _query_param("limit", "integer", "hits per page, 0-100", default=10),
    _query_param("offset", "integer", "hits to skip, 0-10,000", default=0),
    _query_param("category", "string", "only this category (repeat for any of several)"),
    _query_param("source", "string", "only this source (repeat for any of several)"),
    _query_param("since", "string", "published on or after this date (ISO 8601, or 2021-08)"),
    _query_param("until", "string", "published on or before this date"),
    _query_param(
        "sort",
        "string",
        "relevance, newest or oldest",
        default="relevance",
        enum=["relevance", "newest", "oldest"],
    ),
    _query_param(
        "facets", "string", "fields to count matches by: category, source (comma-separated)"
    ),
    _query_param("suggest", "boolean", "look up a 'did you mean' suggestion", default=False),
    _query_param("synonyms", "boolean", "expand words the index's synonyms name", default=True),
    _query_param(
        "fresh",
        "boolean",
        "blend recency into relevance: near-ties go to the newer article",
        default=False,
    ),
    _query_param(
        "collapse",
        "boolean",
        "one hit per group of syndicated copies (the best ranked), the others in its "
        "`duplicates` (id, source, published, similarity); pages up to hit 1,000",
        default=False,
    ),
]

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "searchlib",
        "version": __version__,
        "description": "Full-text search over Indonesian news articles.",
    },
    "paths": {
        "/search": {
            "get": {
                "summary": "Search articles (BM25F, snippets, facets)",
                "parameters": _SEARCH_PARAMETERS,
                "description": "Facets are counted only for the fields `facets` names and the "
                "suggestion looked up only with `suggest=true`. The response holds `hits` "
                "(each with its fields, `score`, `snippet` and `title_snippet` as text, HTML "
                "and spans), `total` with `total_relation` (`eq`, or `gte` past 10,000 "
                "matches), `scored`, `facets`, `suggestion`, `synonyms` (query words "
                "synonyms expanded, with what they were searched as) and `took_ms`.",
                "responses": {
                    "200": _response("hits, total, scored, facets, suggestion, took_ms"),
                    "400": _response("bad query or parameter (with the position in the query)"),
                },
            }
        },
        "/articles": {
            "post": {
                "summary": "Add or replace articles (JSON object, array or JSON Lines)",
                "description": "Records are upserted by `id` in one commit; bad records are "
                "reported in `errors` and the good ones still added. Needs `Authorization: "
                "Bearer TOKEN` when the server has a token; bodies up to 20 MB.",
                "requestBody": {"content": {"application/json": {}, "application/x-ndjson": {}}},
                "responses": {
                    "200": _response("counts and per-record errors"),
                    "400": _response("nothing valid to add"),
                    "401": _response("token required"),
                    "413": _response("body too large"),
                    "503": _response("the index is locked by another writer"),
                },
            }
        },
        "/articles/{id}": {
            "get": {
                "summary": "One article, its fields as stored",
                "parameters": [_ID],
                "responses": {"200": _response("the article"), "404": _response("no such article")},
            },
            "delete": {
                "summary": "Delete an article",
                "parameters": [_ID],
                "responses": {
                    "200": _response("deleted"),
                    "401": _response("token required"),
                    "404": _response("no such article"),
                },
            },
        },
        "/articles/{id}/similar": {
            "get": {
                "summary": "More like this article",
                "parameters": [
                    _ID,
                    _query_param("limit", "integer", "hits, 1-100", default=10),
                ],
                "responses": {
                    "200": _response("similar articles, as /search returns hits"),
                    "404": _response("no such article"),
                },
            }
        },
        "/articles/{id}/duplicates": {
            "get": {
                "summary": "Near-duplicates of this article (syndicated copies)",
                "parameters": [
                    _ID,
                    _query_param(
                        "similarity",
                        "number",
                        "the estimated share of word 3-shingles a copy has in common",
                        default=0.4,
                    ),
                ],
                "responses": {
                    "200": _response("id and duplicates (id, source, published, similarity)"),
                    "400": _response("bad parameter"),
                    "404": _response("no such article"),
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness, article count and version",
                "responses": {
                    "200": _response("status, articles, version"),
                    "503": _response("the index cannot be read"),
                },
            }
        },
        "/complete": {
            "get": {
                "summary": "Search as you type: the last word completed, and titles",
                "parameters": [
                    _query_param("q", "string", "the text typed so far"),
                    _query_param("limit", "integer", "word completions, 0-50", default=8),
                ],
                "description": "`words`: the query with its last word completed (`text`), "
                "the word, how many articles hold it (`count`) and how many of those hold "
                "the earlier words in their title (`together`); `titles`: the newest "
                "articles whose title holds the typed words (`id`, `title`).",
                "responses": {
                    "200": _response("words, titles, took_ms"),
                    "400": _response("bad parameter"),
                },
            }
        },
        "/synonyms": {
            "get": {
                "summary": "The synonyms queries are expanded with",
                "description": "Each rule is `in` (entries that trigger it) and, for a "
                "one-way rule, `out` (what they are searched as); an equivalence has no "
                "`out`. Change them with `search synonyms --set FILE`.",
                "responses": {"200": _response("count and rules")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This OpenAPI 3 description",
                "responses": {"200": _response("the description")},
            }
        },
    },
}
