"""The ``search`` command: a thin shell over ``searchlib.Index`` (click).

This module holds the group, the shared state and the error handling; the commands
live in ``search_commands`` (query, similar), ``export_command`` (export) and
``index_commands`` (the rest).

Exit codes: 0 success (no results is not an error unless ``--fail-empty``), 1 an error
(bad input, bad query, failed check), 2 usage error, 3 no index at the location,
4 the index is locked by another writer, 5 the index needs a rebuild (old format),
6 a damaged index file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

import searchlib
from searchlib.analysis.synonyms import SynonymError
from searchlib.errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    QueryError,
    SearchlibError,
)
from searchlib.index import Index
from searchlib.paths import ENV_INDEX, default_index_path, seeds_path

__all__ = ["cli", "main"]

EXIT_ERROR, EXIT_USAGE, EXIT_NO_INDEX, EXIT_LOCKED, EXIT_VERSION, EXIT_CORRUPT = 1, 2, 3, 4, 5, 6


class CliFailure(click.ClickException):
    """A one-line error with a hint and a specific exit code."""

    def __init__(self, message: str, hint: str, code: int = EXIT_ERROR) -> None:
        super().__init__(f"{message} (hint: {hint})")
        self.exit_code = code  # type: ignore[misc]  # click reads it per instance


def fail(exc: SearchlibError, index_path: Path | None = None) -> NoReturn:
    where = f" --index {index_path}" if index_path else ""
    if isinstance(exc, IndexNotFoundError):
        raise CliFailure(str(exc), f"build one with: search{where} index FILES...", EXIT_NO_INDEX)
    if isinstance(exc, IndexLockedError):
        raise CliFailure(str(exc), "wait for the other writer to finish and retry", EXIT_LOCKED)
    if isinstance(exc, IndexVersionError):
        raise CliFailure(
            str(exc),
            f"rebuild with: search{where} index --rebuild FILES... (FILES: the articles, "
            "or 'search export' of them by the searchlib that wrote the index)",
            EXIT_VERSION,
        )
    if isinstance(exc, IndexCorruptError):
        raise CliFailure(
            str(exc),
            f"restore a backup or rebuild with: search{where} index --rebuild FILES...; "
            f"search{where} check lists every damaged file",
            EXIT_CORRUPT,
        )
    if isinstance(exc, QueryError):
        raise CliFailure(str(exc), 'check the query syntax in "search query --help"')
    if isinstance(exc, SynonymError):
        raise CliFailure(str(exc), "a synonyms file has rules like 'a, b, c' or 'a => b'")
    raise CliFailure(str(exc), "run again with --debug for details")


class _DefaultToQuery(click.Group):
    """``search "words"`` means ``search query "words"``."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "query", self.commands["query"], args
        return super().resolve_command(ctx, args)


class CliState:
    def __init__(
        self,
        index_path: str | None,
        debug: bool,
        lock_timeout: float,
        cluster: str | None = None,
        root: str | None = None,
    ) -> None:
        self.lock_timeout = lock_timeout
        self.cluster = cluster  # a Dask scheduler address: the index is a cluster's
        self.root = Path(root) if root else None
        self.explicit = index_path is not None or bool(os.environ.get(ENV_INDEX))
        self.path = Path(index_path) if index_path else default_index_path()
        self.debug = debug
        self.console = Console(highlight=False, soft_wrap=False)
        self.errors = Console(stderr=True, highlight=False)

    @property
    def where(self) -> Path:
        """The index this command works on: the cluster's root, or the directory."""
        return self.cluster_root() if self.cluster else self.path

    def cluster_root(self) -> Path:
        if self.root is None:
            raise click.UsageError("--cluster needs --root DIR (where the shards live)")
        return self.root

    def open(self) -> Any:
        """Open the index (a ``ClusterIndex`` with ``--cluster``); the default location
        is built from the samples on first use."""
        if self.cluster:
            from searchlib.cluster import ClusterIndex

            return ClusterIndex.open(self.cluster_root(), address=self.cluster)
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
@click.option(
    "--cluster",
    metavar="ADDRESS",
    envvar="SEARCHLIB_CLUSTER",
    help="A Dask scheduler (tcp://HOST:8786): use the cluster index at --root instead.",
)
@click.option("--root", metavar="DIR", help="With --cluster: the path where the shards live.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(searchlib.__version__, "--version", prog_name="searchlib")
@click.pass_context
def cli(
    ctx: click.Context,
    index_path: str | None,
    lock_timeout: float,
    cluster: str | None,
    root: str | None,
    debug: bool,
) -> None:
    """Full-text search for Indonesian news.

    \b
    Examples:
      search "evakuasi Kabul"                 search the index
      search index articles.jsonl seeds/      add files and folders
      search analyze "Pembangunan jalan tol"  show how text becomes terms
      search stats                            what the index holds
    """
    ctx.obj = CliState(index_path, debug, lock_timeout, cluster, root)


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


# Register the commands (they import the group defined above).
from searchlib.cli import (  # noqa: E402, F401
    cluster_commands,
    export_command,
    index_commands,
    search_commands,
)
