"""``search export``: every article of an index as JSON Lines, what ``search index`` reads.

A copy of the data in the plainest form (Meilisearch's dumps, Elasticsearch's reindex
from a scroll): to keep beside a backup, to move articles to another system, or to build
an index anew (another analyzer, another format) without the original files. The file
is written under a temporary name and renamed when complete, so an export cut short (a
full disk, Ctrl-C) never looks like a finished one.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO, cast

import click

from searchlib.cli import CliFailure, CliState, cli, fail
from searchlib.engine.storage import fsync_directory
from searchlib.errors import SearchlibError

__all__ = ["export_command"]


@cli.command("export")
@click.argument("destination", required=False, default="-", metavar="[FILE]")
@click.pass_obj
def export_command(state: CliState, destination: str) -> None:
    """Write every article as JSON Lines to FILE (a name ending .gz: compressed; none or
    '-': standard output), as `search index` reads them back.

    \b
    Examples:
      search --index news.idx export news-2024-04-10.jsonl.gz
      search --index news.idx export | head -3
    """
    if state.cluster:
        raise click.UsageError("export reads one index; export each shard's replica by --index")
    to_stdout = destination == "-"
    target = Path(destination)
    if not to_stdout and target.exists():
        raise CliFailure(
            f"export destination {destination!r} already exists",
            "name a file that does not exist yet",
        )
    temp = target.with_name(f"{target.name}.{os.getpid()}.partial")
    count = 0
    try:
        compressed = target.name.endswith(".gz")
        with state.open() as index, _opened(None if to_stdout else temp, compressed) as out:
            for article in index.documents():
                out.write(json.dumps(article, ensure_ascii=False, default=str) + "\n")
                count += 1
        if not to_stdout:
            os.replace(temp, target)
            fsync_directory(target.parent.absolute())  # the rename made durable
    except SearchlibError as exc:
        fail(exc, state.path)
    except BrokenPipeError:
        # The reader stopped (``| head``): not an error of ours; quiet, as cat is.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    finally:
        if not to_stdout:
            with contextlib.suppress(OSError):
                temp.unlink()
    where = "standard output" if to_stdout else str(target)
    state.errors.print(f"exported {count} articles to {where}")


@contextlib.contextmanager
def _opened(path: Path | None, compressed: bool) -> Iterator[TextIO]:
    """Standard output, or ``path`` (gzip'd if ``compressed``), as text, made durable
    when the block ends."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "wb") as raw:
        binary = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="wb") if compressed else raw)
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
        yield text
        text.detach()  # flushed into ``binary``, which stays open
        if compressed:
            binary.close()  # the gzip trailer (``raw`` stays open)
        raw.flush()
        os.fsync(raw.fileno())
