"""The ``search`` command: a thin shell over ``searchlib.Index``.

Exit codes: 0 success (no results is not an error unless ``--fail-empty``), 1 an error
(bad input, bad query, failed check), 2 usage error, 3 no index at the location,
4 the index is locked by another writer, 5 the index needs a rebuild (old format).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

import searchlib
from searchlib.errors import (
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    QueryError,
    SearchlibError,
)
from searchlib.index import Index
from searchlib.paths import ENV_INDEX, default_index_path, seeds_path
from searchlib.snippets import clean_text

__all__ = ["cli", "main"]

EXIT_ERROR, EXIT_USAGE, EXIT_NO_INDEX, EXIT_LOCKED, EXIT_VERSION = 1, 2, 3, 4, 5


class _Failure(click.ClickException):
    """A one-line error with a hint and a specific exit code."""

    def __init__(self, message: str, hint: str, code: int = EXIT_ERROR) -> None:
        super().__init__(f"{message} (hint: {hint})")
        self.exit_code = code


def _fail(exc: SearchlibError, index_path: Path | None = None) -> NoReturn:
    where = f" --index {index_path}" if index_path else ""
    if isinstance(exc, IndexNotFoundError):
        raise _Failure(str(exc), f"build one with: search{where} index FILES...", EXIT_NO_INDEX)
    if isinstance(exc, IndexLockedError):
        raise _Failure(str(exc), "wait for the other writer to finish and retry", EXIT_LOCKED)
    if isinstance(exc, IndexVersionError):
        raise _Failure(
            str(exc), f"rebuild with: search{where} index --rebuild FILES...", EXIT_VERSION
        )
    if isinstance(exc, QueryError):
        raise _Failure(str(exc), 'check the query syntax in "search query --help"')
    raise _Failure(str(exc), "run again with --debug for details")


class _DefaultToQuery(click.Group):
    """``search "words"`` means ``search query "words"``."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "query", self.commands["query"], args
        return super().resolve_command(ctx, args)


class _State:
    def __init__(self, index_path: str | None, debug: bool, lock_timeout: float) -> None:
        self.lock_timeout = lock_timeout
        self.explicit = index_path is not None or bool(__import__("os").environ.get(ENV_INDEX))
        self.path = Path(index_path) if index_path else default_index_path()
        self.debug = debug
        self.console = Console(highlight=False, soft_wrap=False)
        self.errors = Console(stderr=True, highlight=False)

    def open(self) -> Index:
        """Open the index; the default location is built from the samples on first use."""
        try:
            return Index.open(self.path, lock_timeout=self.lock_timeout)
        except IndexNotFoundError:
            if self.explicit or self.path.exists():
                raise
        from searchlib.ingest import index_paths

        self.errors.print(f"No index yet: building {self.path} from the bundled sample articles.")
        index = Index.create(self.path)
        index_paths(index, [seeds_path()])
        return index


@click.group(cls=_DefaultToQuery, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index",
    "index_path",
    metavar="DIR",
    envvar=ENV_INDEX,
    help=f"Index directory (default: ${ENV_INDEX}, else a per-user data directory).",
)
@click.option(
    "--lock-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    envvar="SEARCHLIB_LOCK_TIMEOUT",
    metavar="SECONDS",
    help="How long a write waits for another writer.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(searchlib.__version__, "--version", prog_name="searchlib")
@click.pass_context
def cli(ctx: click.Context, index_path: str | None, lock_timeout: float, debug: bool) -> None:
    """Full-text search for Indonesian news.

    \b
    Examples:
      search "evakuasi Kabul"                 search the index
      search index articles.jsonl seeds/      add files and folders
      search analyze "Pembangunan jalan tol"  show how text becomes terms
      search stats                            what the index holds
    """
    ctx.obj = _State(index_path, debug, lock_timeout)


def _render_hit(console: Console, hit: searchlib.Hit, explain: bool) -> None:
    title = Text(f"{hit.rank}. ", style="bold")
    title.append(clean_text(hit.title or hit.id), style="bold cyan")
    console.print(title)
    meta = [
        clean_text(v) for v in (hit.source, (hit.published or "")[:10], hit.category, hit.url) if v
    ]
    meta.append(f"id {clean_text(hit.id)}")
    meta.append(f"score {hit.score:.3f}")
    console.print(Text("   " + " · ".join(meta), style="dim"))
    if hit.snippet is not None and hit.snippet.fragment:
        snippet = Text("   " + hit.snippet.fragment)
        for start, end in hit.snippet.spans:
            snippet.stylize("bold yellow", start + 3, end + 3)
        console.print(snippet)
    if explain and hit.explanation:
        table = Table(
            "field",
            "term",
            "tf",
            "df",
            "idf",
            "len",
            "avgdl",
            "boost",
            "score",
            box=None,
            padding=(0, 1),
            show_edge=False,
        )
        for part in hit.explanation:
            table.add_row(
                part.field,
                part.term,
                f"{part.tf:g}",
                str(part.doc_freq),
                f"{part.idf:.3f}",
                f"{part.length:g}",
                f"{part.avg_length:.1f}",
                f"{part.boost:g}",
                f"{part.score:.3f}",
            )
        console.print(table)
    console.print()


@cli.command("query")
@click.argument("words", nargs=-1, required=True)
@click.option(
    "-n",
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Hits per page.",
)
@click.option("--page", default=1, show_default=True, type=click.IntRange(1), help="Page number.")
@click.option("--category", multiple=True, help="Only this category (repeatable).")
@click.option("--source", multiple=True, help="Only this source (repeatable).")
@click.option("--since", metavar="DATE", help="Published on or after (YYYY[-MM[-DD]]).")
@click.option("--until", metavar="DATE", help="Published on or before (YYYY[-MM[-DD]]).")
@click.option(
    "--sort",
    type=click.Choice(["relevance", "newest", "oldest"]),
    default="relevance",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--explain", is_flag=True, help="Show each hit's per-term, per-field scores.")
@click.option("--facets", is_flag=True, help="Show counts by category and source.")
@click.option("--fail-empty", is_flag=True, help="Exit with 1 when nothing matches.")
@click.pass_obj
def query_command(
    state: _State,
    words: tuple[str, ...],
    limit: int,
    page: int,
    category: tuple[str, ...],
    source: tuple[str, ...],
    since: str | None,
    until: str | None,
    sort: str,
    as_json: bool,
    explain: bool,
    facets: bool,
    fail_empty: bool,
) -> None:
    """Search the index: ranked hits with highlighted snippets.

    \b
    Syntax: words (any may match), "a phrase", +must, -not, AND/OR/NOT, (groups),
    title:word, category:olahraga, source:antara, prefix*, fuzzy~,
    published:2021-08, published:[2021-01-01 TO 2021-06-30].
    \b
    Examples:
      search "evakuasi Kabul"
      search query '"penerbangan evakuasi" -taliban' --json
      search query rusia --category internasional --since 2021-08 --sort newest
    """
    text = " ".join(words)
    filters: dict[str, Any] = {}
    if category:
        filters["category"] = list(category)
    if source:
        filters["source"] = list(source)
    try:
        with state.open() as index:
            results = index.search(
                text,
                limit=limit,
                offset=(page - 1) * limit,
                filters=filters or None,
                since=since,
                until=until,
                sort=sort,
                explain=explain,
            )
    except SearchlibError as exc:
        _fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, default=str))
    else:
        console = state.console
        if results.suggestion:
            console.print(Text(f"Did you mean: {clean_text(results.suggestion)}", style="italic"))
        shown = f"{results.offset + 1}-{results.offset + len(results)}" if results.hits else "0"
        console.print(
            Text(
                f"{results.total} results, showing {shown} ({results.took_ms:.1f} ms)", style="dim"
            )
        )
        console.print()
        for hit in results:
            _render_hit(console, hit, explain)
        if facets:
            for name, counts in results.facets.items():
                line = ", ".join(f"{clean_text(k)} ({v})" for k, v in counts.items()) or "-"
                console.print(Text(f"{name}: {line}"))
    if fail_empty and not results.total:
        sys.exit(EXIT_ERROR)


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Start from an empty index.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1))
@click.pass_obj
def index_command(state: _State, paths: tuple[Path, ...], rebuild: bool, batch_size: int) -> None:
    """Add articles from files and folders (.jsonl, .json, .csv, .txt, each optionally .gz).

    \b
    Examples:
      search index articles.jsonl
      search --index news.idx index --rebuild data/ seeds/
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from searchlib.ingest import index_paths

    try:
        if rebuild:
            _clear(state.path)
        index = Index.open_or_create(state.path, lock_timeout=state.lock_timeout)
        with (
            index,
            Progress(
                TextColumn("indexing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} articles/s"),
                console=state.errors,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("index", total=None, rate="-")

            def advance(count: int) -> None:
                progress.advance(task, count)
                elapsed = progress.tasks[0].elapsed or 0
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / elapsed:,.0f}" if elapsed else "-")

            summary = index_paths(index, paths, batch_size=batch_size, on_progress=advance)
            total = len(index)
    except SearchlibError as exc:
        _fail(exc, state.path)
    for bad in summary.bad or []:
        state.errors.print(Text(f"skipped {bad.location}: {bad.reason}"), soft_wrap=True)
    state.console.print(
        f"added {summary.added}, updated {summary.updated}, skipped {summary.skipped}; "
        f"{total} articles in {state.path}"
    )


def _clear(path: Path) -> None:
    """Remove an index directory's files (only if it is a searchlib index)."""
    from searchlib.engine import MARKER

    if not path.exists():
        return
    if not (path / MARKER).is_file():
        if path.is_dir() and not any(path.iterdir()):
            return
        raise IndexNotFoundError(f"refusing to rebuild {str(path)!r}: it is not a searchlib index")
    import shutil

    for child in path.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


@cli.command("analyze")
@click.argument("text", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print tokens as JSON.")
@click.pass_obj
def analyze_command(state: _State, text: tuple[str, ...], as_json: bool) -> None:
    """Show how text becomes index terms: surface, term, offsets, and why.

    \b
    Example:
      search analyze "Kedutaan Besar Rusia di Kabul mengerahkan penerbangan"
    """
    tokens = searchlib.Analyzer().explain(" ".join(text))
    if as_json:
        click.echo(json.dumps([vars_token(t) for t in tokens], ensure_ascii=False))
        return
    table = Table("surface", "term", "offsets", "pos", "why", box=None, padding=(0, 2))
    for token in tokens:
        style = "dim" if token.why == "stopword" else None
        table.add_row(
            clean_text(token.text),
            clean_text(token.term),
            f"{token.start}-{token.end}",
            str(token.position),
            token.why,
            style=style,
        )
    state.console.print(table)


def vars_token(token: searchlib.Token) -> dict[str, Any]:
    return {
        "text": token.text,
        "term": token.term,
        "norm": token.norm,
        "start": token.start,
        "end": token.end,
        "position": token.position,
        "why": token.why,
    }


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats_command(state: _State, as_json: bool) -> None:
    """Articles, distinct terms, size on disk, last commit, format version.

    \b
    Example:
      search stats --json
    """
    try:
        with state.open() as index:
            stats = index.stats()
    except SearchlibError as exc:
        _fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(stats))
        return
    import datetime

    last = stats["last_commit"]
    when = datetime.datetime.fromtimestamp(last).isoformat(" ", "seconds") if last else "-"
    rows = [
        ("index", stats["path"]),
        ("articles", f"{stats['articles']:,}"),
        ("distinct terms", ", ".join(f"{k} {v:,}" for k, v in stats["distinct_terms"].items())),
        ("segments", str(stats["segments"])),
        ("size on disk", f"{stats['size_bytes']:,} bytes"),
        ("last commit", when),
        ("format version", str(stats["format_version"])),
    ]
    table = Table(show_header=False, box=None, padding=(0, 2))
    for key, value in rows:
        table.add_row(key, value)
    state.console.print(table)


@cli.command("delete")
@click.argument("ids", nargs=-1, required=True)
@click.pass_obj
def delete_command(state: _State, ids: tuple[str, ...]) -> None:
    """Delete articles by id.

    \b
    Example:
      search delete 000_222d11a223a65e09
    """
    try:
        with state.open() as index:
            count = index.delete(list(ids))
    except SearchlibError as exc:
        _fail(exc, state.path)
    state.console.print(f"deleted {count} of {len(set(ids))}")


@cli.command("similar")
@click.argument("doc_id")
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def similar_command(state: _State, doc_id: str, limit: int, as_json: bool) -> None:
    """Articles most like the given one.

    \b
    Example:
      search similar 000_222d11a223a65e09
    """
    try:
        with state.open() as index:
            results = index.similar(doc_id, limit=limit)
    except SearchlibError as exc:
        _fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, default=str))
        return
    state.console.print(Text(f"{results.total} similar articles", style="dim"))
    for hit in results:
        _render_hit(state.console, hit, False)


@cli.command("check")
@click.pass_obj
def check_command(state: _State) -> None:
    """Verify that the index opens and its segments, counts and ids agree.

    \b
    Example:
      search --index news.idx check
    """
    try:
        with state.open() as index:
            problems = index.check()
            count = len(index)
    except SearchlibError as exc:
        _fail(exc, state.path)
    if problems:
        for problem in problems:
            state.errors.print(Text(f"problem: {problem}"))
        raise _Failure(
            f"{len(problems)} problems in {state.path}",
            "rebuild the index with: search index --rebuild FILES...",
        )
    state.console.print(f"ok: {count} articles in {state.path}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="SEARCHLIB_TOKEN",
    metavar="TOKEN",
    help="Bearer token for write endpoints (required beyond loopback).",
)
@click.pass_obj
def serve_command(state: _State, host: str, port: int, token: str | None) -> None:
    """Serve the JSON API and the search page over HTTP (needs searchlib[server]).

    \b
    Examples:
      search serve                      http://127.0.0.1:8000/
      search serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    import ipaddress

    try:
        import uvicorn

        from searchlib.server import create_app
    except ImportError as exc:
        raise _Failure(
            f"the HTTP server needs extra packages ({exc.name} is missing)",
            "pip install 'searchlib[server]'",
        ) from exc
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not token:
        raise _Failure(
            f"refusing to listen on {host} without a token for write endpoints",
            "pass --token TOKEN or set SEARCHLIB_TOKEN",
            EXIT_USAGE,
        )
    try:
        index = state.open()
    except SearchlibError as exc:
        _fail(exc, state.path)
    state.errors.print(f"serving {state.path} ({len(index)} articles) on http://{host}:{port}/")
    uvicorn.run(create_app(index, token=token), host=host, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``search`` console script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="search", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SearchlibError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc} (hint: run again with --debug for details)", err=True)
        sys.exit(EXIT_ERROR)
    except (OSError, ValueError) as exc:
        if debug:
            raise
        click.echo(f"Error: {type(exc).__name__}: {exc} (hint: run again with --debug)", err=True)
        sys.exit(EXIT_ERROR)
