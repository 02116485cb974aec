"""HTTP JSON API and search page: an ASGI app over one shared ``Index`` (or ``ClusterIndex``).

``create_app(index)`` returns a Starlette application that can be mounted in another
ASGI app or served by ``search serve`` (uvicorn). Endpoints run in Starlette's thread
pool; the ``Index`` is thread-safe, so many searches run at once while writes queue.

Writes (``POST /articles``, ``DELETE /articles/{id}``) need ``Authorization: Bearer
<token>`` when a token is configured; ``search serve`` refuses to listen beyond
loopback without one.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from searchlib import __version__
from searchlib.document import normalize_record
from searchlib.errors import (
    DocumentError,
    IndexLockedError,
    QueryError,
    SearchlibError,
)
from searchlib.index import Index
from searchlib.openapi import OPENAPI
from searchlib.query.ranking import FRESH_RANKING

if TYPE_CHECKING:  # the cluster client is an optional extra
    from searchlib.cluster import ClusterIndex

__all__ = ["Limits", "create_app"]


class Limits:
    """Request limits: query length, page size, offset and request body size."""

    def __init__(
        self,
        query_chars: int = 2_000,
        page_size: int = 100,
        offset: int = 10_000,
        body_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.query_chars = query_chars
        self.page_size = page_size
        self.offset = offset
        self.body_bytes = body_bytes


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def _bool_param(request: Request, name: str, default: bool = False) -> bool:
    raw = (request.query_params.get(name) or str(default)).lower()
    if raw not in ("true", "false", "1", "0"):
        raise QueryError(f"{name} must be true or false, not {raw!r}")
    return raw in ("true", "1")


def _float_param(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise QueryError(f"{name} must be a number, not {raw!r}") from None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _parse_records(body: bytes, content_type: str) -> tuple[list[Any], list[dict]]:
    """Records from a JSON object, a JSON array or JSON Lines; per-line errors."""
    text = body.decode("utf-8")
    errors: list[dict] = []
    stripped = text.lstrip()
    if (
        "ndjson" in content_type
        or "jsonl" in content_type
        or (stripped.startswith("{") and "\n{" in text.strip())
    ):
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                errors.append({"line": number, "error": f"invalid JSON: {str(exc)[:120]}"})
        return records, errors
    value = json.loads(text)
    return (value if isinstance(value, list) else [value]), errors


def create_app(
    index: Index | ClusterIndex, *, token: str | None = None, limits: Limits | None = None
) -> Starlette:
    """The ASGI app serving ``index``: JSON API at /search, /articles..., page at /."""
    limits = limits or Limits()

    def authorized(request: Request) -> bool:
        if not token:
            return True
        header = request.headers.get("authorization", "")
        supplied = header[7:] if header.lower().startswith("bearer ") else ""
        return hmac.compare_digest(supplied.encode(), token.encode())

    def page(request: Request) -> Response:
        html = resources.files("searchlib.web").joinpath("index.html").read_text("utf-8")
        return HTMLResponse(html)

    def search(request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "")
        if len(query) > limits.query_chars:
            return _error(400, f"q is longer than {limits.query_chars} characters")
        try:
            limit = _int_param(request, "limit", 10, 0, limits.page_size)
            offset = _int_param(request, "offset", 0, 0, limits.offset)
            filters = {
                name: params.getlist(name)
                for name in ("category", "source")
                if params.getlist(name)
            }
            results = index.search(
                query,
                limit=limit,
                offset=offset,
                filters=filters or None,
                since=params.get("since") or None,
                until=params.get("until") or None,
                sort=params.get("sort") or "relevance",
                facets=[f for v in params.getlist("facets") for f in v.split(",") if f],
                suggest=_bool_param(request, "suggest"),
                synonyms=_bool_param(request, "synonyms", default=True),
                ranking=FRESH_RANKING if _bool_param(request, "fresh") else None,
                collapse=_bool_param(request, "collapse"),
            )
        except QueryError as exc:
            return _error(400, str(exc), position=getattr(exc, "position", None))
        return JSONResponse(results.to_dict())

    def article(request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        if request.method == "DELETE":
            if not authorized(request):
                return _error(401, "this endpoint needs Authorization: Bearer <token>")
            deleted = index.delete(doc_id)
            if not deleted:
                return _error(404, f"no article with id {doc_id!r}")
            return JSONResponse({"deleted": deleted, "id": doc_id})
        found = index.get(doc_id)
        if found is None:
            return _error(404, f"no article with id {doc_id!r}")
        return JSONResponse(found)

    def similar(request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        try:
            limit = _int_param(request, "limit", 10, 1, limits.page_size)
            results = index.similar(doc_id, limit=limit)
        except QueryError as exc:
            status = 404 if index.get(doc_id) is None else 400
            return _error(status, str(exc))
        return JSONResponse(results.to_dict())

    def duplicates(request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        try:
            raw = request.query_params.get("similarity")
            similarity = None if raw in (None, "") else _float_param(raw, "similarity")
            copies = index.duplicates(doc_id, similarity=similarity)
        except QueryError as exc:
            status = 404 if index.get(doc_id) is None else 400
            return _error(status, str(exc))
        return JSONResponse({"id": doc_id, "duplicates": [c.to_dict() for c in copies]})

    async def add_articles(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "this endpoint needs Authorization: Bearer <token>")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.body_bytes:
            return _error(413, f"request body larger than {limits.body_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.body_bytes:
                return _error(413, f"request body larger than {limits.body_bytes} bytes")
        try:
            records, errors = _parse_records(body, request.headers.get("content-type", ""))
        except UnicodeDecodeError as exc:
            return _error(400, f"request body is not UTF-8 (byte {exc.start})")
        except (ValueError, RecursionError) as exc:
            return _error(400, f"request body is not JSON: {str(exc)[:200]}")
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_upsert, records, errors)

    def _upsert(records: list[Any], errors: list[dict]) -> Response:
        good = []
        for number, record in enumerate(records, start=1):
            try:
                good.append(normalize_record(record))  # validated once: add takes it as is
            except DocumentError as exc:
                errors.append({"record": number, "error": str(exc)})
        try:
            added = index.add(good) if good else 0
        except IndexLockedError as exc:
            return _error(503, str(exc))
        status = 200 if added or not errors else 400
        return JSONResponse({"added": added, "errors": errors}, status_code=status)

    def health(request: Request) -> Response:
        try:
            count = len(index)
        except SearchlibError as exc:
            return _error(503, str(exc))
        return JSONResponse({"status": "ok", "articles": count, "version": __version__})

    def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    def completions(request: Request) -> Response:
        text = request.query_params.get("q", "")
        if len(text) > limits.query_chars:
            return _error(400, f"q is longer than {limits.query_chars} characters")
        try:
            limit = _int_param(request, "limit", 8, 0, 50)
            found = index.complete(text, limit)
        except QueryError as exc:
            return _error(400, str(exc))
        return JSONResponse(found.to_dict())

    def synonyms(request: Request) -> Response:
        rules = index.synonyms
        return JSONResponse({"count": len(rules), "rules": rules.to_data()})

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
        Route("/articles", add_articles, methods=["POST"]),
        Route("/articles/{doc_id:path}/similar", similar, methods=["GET"]),
        Route("/articles/{doc_id:path}/duplicates", duplicates, methods=["GET"]),
        Route("/articles/{doc_id:path}", article, methods=["GET", "DELETE"]),
        Route("/health", health, methods=["GET"]),
        Route("/synonyms", synonyms, methods=["GET"]),
        Route("/complete", completions, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _error(status, getattr(exc, "detail", "not found") or "not found")

    async def server_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, IndexLockedError):
            return _error(503, str(exc))
        if isinstance(exc, SearchlibError):
            return _error(500, str(exc))
        return _error(500, "internal error")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The first keystroke of search-as-you-type should not pay for the segments'
        # prefix tables: build them in the background as the server starts.
        warm = getattr(index, "prepare_completion", None)
        if warm is not None:
            threading.Thread(target=warm, name="prepare-completion", daemon=True).start()
        yield

    return Starlette(
        routes=routes,
        exception_handlers={
            404: not_found,
            405: not_found,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
