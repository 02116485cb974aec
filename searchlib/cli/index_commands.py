"""``search index``, ``analyze``, ``stats``, ``delete``, ``check`` and ``serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

import searchlib
from searchlib.analysis.synonyms import Synonyms
from searchlib.cli import (
    EXIT_USAGE,
    CliFailure,
    CliState,
    cli,
    fail,
)
from searchlib.cli.render import token_dict
from searchlib.engine import MARKER
from searchlib.errors import IndexNotFoundError, SearchlibError
from searchlib.index import Index
from searchlib.query.snippets import clean_text


@cli.command("index")
@click.argument("paths", nargs=-1, required=True)
@click.option("--rebuild", is_flag=True, help="Start from an empty index.")
@click.option(
    "--batch-size",
    default=10_000,
    show_default=True,
    type=click.IntRange(1),
    help="Articles per commit (large batches are analyzed by all cores).",
)
@click.option("--shards", default=4, show_default=True, type=click.IntRange(1),
              help="With --cluster, when creating: how many shards.")  # fmt: skip
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(1),
              help="With --cluster, when creating: copies of each shard.")  # fmt: skip
@click.option("--data-dir", metavar="DIR",
              help="With --cluster, when creating: keep replicas on each worker's "
                   "own disk under DIR ('{worker}': its name), not under --root.")  # fmt: skip
@click.option("--synonyms", "synonyms_file", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Synonyms to keep (Solr format; at create the default is the "
                   "shipped acronyms).")  # fmt: skip
@click.option("--no-synonyms", is_flag=True, help="When creating: keep no synonyms.")
@click.pass_obj
def index_command(
    state: CliState,
    paths: tuple[str, ...],
    rebuild: bool,
    batch_size: int,
    shards: int,
    replicas: int,
    data_dir: str | None,
    synonyms_file: Path | None,
    no_synonyms: bool,
) -> None:
    """Add articles from files and folders (.jsonl, .json, .csv, .txt, each optionally .gz;
    '-': JSON Lines from standard input).

    With --cluster, files (local paths every worker can read, or fsspec URLs) are read
    on the workers in parallel; the first run creates the cluster index.

    \b
    Examples:
      search index articles.jsonl
      search --index news.idx index --rebuild data/ seeds/
      zcat export.jsonl.gz | search --index news.idx index -
      search --cluster tcp://127.0.0.1:8786 --root /data/news index --shards 4 data/
      search --cluster tcp://10.0.0.1:8786 --root ./news index --replicas 2 \\
        --data-dir /var/lib/searchlib data/
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from searchlib.ingest import index_paths

    if state.cluster and rebuild:
        raise click.UsageError("--rebuild does not apply to a cluster index (remove its --root)")
    if synonyms_file and no_synonyms:
        raise click.UsageError("--synonyms and --no-synonyms contradict each other")
    try:
        chosen = Synonyms.read(synonyms_file) if synonyms_file else None
        if no_synonyms:
            chosen = Synonyms()
        if state.cluster:
            from searchlib.cluster import CATALOG_FILE

            existed = (state.cluster_root() / CATALOG_FILE).exists()
            index = open_or_create_cluster(state, shards, replicas, chosen, data_dir)
        else:
            if rebuild:
                _clear(state.path)
            existed = (state.path / MARKER).is_file()
            index = Index.open_or_create(
                state.path, synonyms=chosen, lock_timeout=state.lock_timeout
            )
        if existed and synonyms_file:  # an index that exists takes the file's rules
            index.set_synonyms(chosen)
        with (
            index,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} articles/s"),
                console=state.errors,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("indexing", total=None, rate="-")

            def advance(count: int) -> None:
                progress.advance(task, count)
                elapsed = progress.tasks[0].elapsed or 0
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / elapsed:,.0f}" if elapsed else "-")

            if state.cluster:  # files are read on the workers, in parallel
                summary = index.add_files(
                    paths,
                    batch_size=batch_size,
                    on_progress=lambda r: advance(r.summary.added + r.summary.updated),
                )
            else:
                summary = index_paths(index, paths, batch_size=batch_size, on_progress=advance)
                # Closing waits for them too; saying so explains the pause.
                progress.update(task, description="merging segments")
                index.wait_for_merges()
            total = len(index)
    except SearchlibError as exc:
        fail(exc, state.path)
    for bad in summary.bad:
        state.errors.print(Text(f"skipped {bad.location}: {bad.reason}"), soft_wrap=True)
    if summary.skipped > len(summary.bad):
        state.errors.print(f"... and {summary.skipped - len(summary.bad):,} more skipped")
    state.console.print(
        f"added {summary.added}, updated {summary.updated}, skipped {summary.skipped}; "
        f"{total} articles in {state.where}"
    )


def open_or_create_cluster(
    state: CliState,
    shards: int,
    replicas: int,
    synonyms: Synonyms | None = None,
    data_dir: str | None = None,
) -> Any:
    from searchlib.cluster import CATALOG_FILE, ClusterIndex

    root = state.cluster_root()
    if (root / CATALOG_FILE).exists():
        return ClusterIndex.open(root, address=state.cluster)
    return ClusterIndex.create(
        root,
        address=state.cluster,
        shards=shards,
        replicas=replicas,
        synonyms=synonyms,
        data_dir=data_dir,
    )


def _clear(path: Path) -> None:
    """Remove an index directory's files (only if it is a searchlib index)."""
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
def analyze_command(state: CliState, text: tuple[str, ...], as_json: bool) -> None:
    """Show how text becomes index terms: surface, term, offsets, and why (with the
    index's own analyzer when the index, or the --cluster index, exists).

    \b
    Example:
      search analyze "Kedutaan Besar Rusia di Kabul mengerahkan penerbangan"
    """
    analyzer = searchlib.Analyzer()
    if state.cluster:
        try:
            with state.open() as index:
                analyzer = index.analyzer
        except SearchlibError as exc:
            fail(exc, state.cluster_root())
    elif state.path.exists():
        try:
            with searchlib.Index.open(state.path, lock_timeout=state.lock_timeout) as index:
                analyzer = index.analyzer
        except IndexNotFoundError:
            pass  # a folder that holds no index: the default analyzer
    tokens = analyzer.explain(" ".join(text))
    if as_json:
        click.echo(json.dumps([token_dict(t) for t in tokens], ensure_ascii=False))
        return
    table = Table("surface", "term", "offsets", "pos", "why", box=None, padding=(0, 2))
    for token in tokens:
        style = "dim" if token.why == "stopword" or token.stopword else None
        table.add_row(
            clean_text(token.text),
            clean_text(token.term),
            f"{token.start}-{token.end}",
            str(token.position),
            f"{token.why}, stopword" if token.stopword else token.why,
            style=style,
        )
    state.console.print(table)


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats_command(state: CliState, as_json: bool) -> None:
    """Articles, distinct terms, size on disk, last commit, format version.

    \b
    Example:
      search stats --json
    """
    try:
        with state.open() as index:
            stats = index.stats()
    except SearchlibError as exc:
        fail(exc, state.path)
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
def delete_command(state: CliState, ids: tuple[str, ...]) -> None:
    """Delete articles by id.

    \b
    Example:
      search delete 000_222d11a223a65e09
    """
    try:
        with state.open() as index:
            count = index.delete(list(ids))
    except SearchlibError as exc:
        fail(exc, state.path)
    state.console.print(f"deleted {count} of {len(set(ids))}")


@cli.command("synonyms")
@click.option("--set", "set_file", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Replace them with a file's rules (Solr format).")  # fmt: skip
@click.option("--default", "use_default", is_flag=True, help="Restore the shipped list.")
@click.option("--off", is_flag=True, help="Keep no synonyms.")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON data.")
@click.pass_obj
def synonyms_command(
    state: CliState, set_file: Path | None, use_default: bool, off: bool, as_json: bool
) -> None:
    """List the synonyms queries are expanded with, or replace them (no re-index).

    The listing is itself a synonyms file (Solr format: "a, b, c" are equivalent,
    "a => b" one way; an entry of several words is searched as a phrase).

    \b
    Examples:
      search synonyms
      search synonyms > mine.txt && search synonyms --set mine.txt
      search synonyms --off
    """
    if sum((set_file is not None, use_default, off)) > 1:
        raise click.UsageError("choose one of --set, --default and --off")
    try:
        replacement = Synonyms.read(set_file) if set_file else None
        if off:
            replacement = Synonyms()
        with state.open() as index:
            if replacement is not None or use_default:
                index.set_synonyms(replacement)  # None: the shipped list
            synonyms = index.synonyms
    except SearchlibError as exc:
        fail(exc, state.path)
    if as_json:
        click.echo(json.dumps(synonyms.to_data(), ensure_ascii=False))
        return
    click.echo(f"# {len(synonyms)} synonym rules of {state.where}")
    click.echo(synonyms.to_text(), nl=False)


@cli.command("backup")
@click.argument("destination", type=click.Path(path_type=Path))
@click.pass_obj
def backup_command(state: CliState, destination: Path) -> None:
    """Copy the index's last commit to DESTINATION (a new directory), consistently,
    while searches go on; writes wait for the copy.

    \b
    Example:
      search --index news.idx backup /backups/news-2024-04-10.idx
    """
    if state.cluster:
        raise click.UsageError("backup copies one index; a cluster's replicas: cluster repair")
    if destination.exists():
        raise CliFailure(
            f"backup destination {str(destination)!r} already exists",
            "name a directory that does not exist yet",
        )
    try:
        with state.open() as index:
            target = index.backup(destination)
            count = len(index)
    except SearchlibError as exc:
        fail(exc, state.path)
    state.console.print(f"backed up {count} articles to {target}")


@cli.command("check")
@click.pass_obj
def check_command(state: CliState) -> None:
    """Verify every index file's checksum, and that segments, counts and ids agree.

    \b
    Example:
      search --index news.idx check
    """
    try:
        with state.open() as index:
            problems = index.check()
            count = len(index)
    except SearchlibError as exc:
        fail(exc, state.path)
    if problems:
        for problem in problems:
            state.errors.print(Text(f"problem: {problem}"))
        raise CliFailure(
            f"{len(problems)} problems in {state.where}",
            "rebuild the index with: search index --rebuild FILES...",
        )
    state.console.print(f"ok: {count} articles in {state.where}")


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
def serve_command(state: CliState, host: str, port: int, token: str | None) -> None:
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
        raise CliFailure(
            f"the HTTP server needs extra packages ({exc.name} is missing)",
            "pip install 'searchlib[server]'",
        ) from exc
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not token:
        raise CliFailure(
            f"refusing to listen on {host} without a token for write endpoints",
            "pass --token TOKEN or set SEARCHLIB_TOKEN",
            EXIT_USAGE,
        )
    try:
        index = state.open()
    except SearchlibError as exc:
        fail(exc, state.path)
    state.errors.print(f"serving {state.where} ({len(index)} articles) on http://{host}:{port}/")
    uvicorn.run(create_app(index, token=token), host=host, port=port, log_level="warning")
