"""Reading article files for indexing: JSON Lines, JSON, CSV, seed-style ``.txt``, gzip'd.

``read_records(paths)`` walks files and folders and yields ``Record`` (a dict with its
location) or ``BadRecord`` (location and reason) one at a time, so a bad line in the
middle of a file is reported and skipped while everything else is indexed.

The ``.txt`` format is the seed article's: the first line is the title, then the body;
trailing lines starting with ``- `` are related headlines (kept out of the body, stored
as ``related``); a leading dateline such as ``jpnn.com, MOSKOW - `` becomes the
``source`` and ``dateline`` fields and stays in the text.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from searchlib.document import normalize_record, unicode_problem
from searchlib.engine.storage import MARKER
from searchlib.errors import DocumentError
from searchlib.json_array import NOT_UTF8, JsonArrayError, json_items

__all__ = [
    "STDIN",
    "SUFFIXES",
    "BadRecord",
    "IngestSummary",
    "Record",
    "index_paths",
    "input_files",
    "parse_article_text",
    "read_records",
]

SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".txt")
STDIN = "-"  # the path that means standard input, read as JSON Lines
_DATELINE = re.compile(
    r"^\s*(?:(?P<source>[A-Za-z0-9][\w.-]*\.[a-z]{2,}),\s*)?"
    r"(?P<place>[A-Z][A-Z .'-]{1,40}?)\s*[-\u2013\u2014]\s+"
)
csv.field_size_limit(64 * 1024 * 1024)
# Bad records kept with their reasons in a summary (all are counted): a file of a
# million bad lines must not fill the memory or the terminal.
MAX_REPORTED = 1_000


@dataclass
class Record:
    location: str
    data: dict[str, Any]


@dataclass
class BadRecord:
    location: str
    reason: str


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def _is_index(folder: Path) -> bool:
    """Whether ``folder`` is a searchlib index (its marker and a commit point)."""
    return (folder / MARKER).is_file() and any(folder.glob("commit.*.json"))


def _files_under(folder: Path) -> Iterator[Path]:
    """The files under ``folder``, not entering searchlib indexes (an index kept beside
    its sources, or inside them: its own files are not articles) nor following links
    to folders (a loop)."""
    for root, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not _is_index(Path(root) / name)]
        for name in files:
            yield Path(root) / name


def input_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | BadRecord]:
    """The files ``paths`` name (folders searched for known kinds), or why not."""
    for raw in paths:
        path = Path(raw)
        if str(raw) == STDIN:
            yield path  # JSON Lines from standard input (a pipe)
        elif path.is_dir() and _is_index(path):
            yield BadRecord(str(path), "a searchlib index, not articles")
        elif path.is_dir():
            found = sorted(p for p in _files_under(path) if p.is_file() and _kind(p))
            if not found:
                yield BadRecord(str(path), "no .jsonl, .json, .csv or .txt files in this folder")
            yield from found
        elif path.is_file():
            yield (
                path
                if _kind(path)
                else BadRecord(
                    str(path), "unknown file type (use .jsonl, .json, .csv or .txt, optionally .gz)"
                )
            )
        else:
            yield BadRecord(str(path), "no such file or directory")


def _open_stream(path: Path) -> contextlib.AbstractContextManager[BinaryIO]:
    """The file's bytes as a stream (gzip'd files decompressed as they are read;
    ``-``: standard input, left open when done)."""
    if str(path) == STDIN:
        return contextlib.nullcontext(sys.stdin.buffer)
    if path.name.lower().endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


def _stable_id(path: Path, suffix: str = "") -> str:
    base = "stdin" if str(path) == STDIN else path.name
    for ending in (".gz", *SUFFIXES):
        base = base.removesuffix(ending)
    return f"{base}{suffix}"


def parse_article_text(text: str) -> dict[str, Any]:
    """Parse the seed ``.txt`` format into title, body, related, source and dateline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    title = lines[0].strip() if lines else ""
    rest = lines[1:]
    related: list[str] = []
    while rest and (rest[-1].startswith("- ") or not rest[-1].strip()):
        line = rest.pop()
        if line.strip():
            related.insert(0, line[2:].strip())
    body = "\n".join(rest).strip()
    record: dict[str, Any] = {"title": title, "body": body, "related": related}
    if match := _DATELINE.match(body):
        if match.group("source"):
            record["source"] = match.group("source")
        record["dateline"] = match.group("place").strip()
    return record


def _json_lines(path: Path, stream: BinaryIO) -> Iterator[Record | BadRecord]:
    """One record a line, read as they come (a file of any size in bounded memory)."""
    number = 0
    try:
        for number, raw in enumerate(stream, start=1):
            yield from _json_line(path, number, raw)
    except (OSError, EOFError) as exc:  # a damaged gzip stream, a read error
        yield BadRecord(f"{path}:{number + 1}", f"cannot read: {exc}")


def _json_line(path: Path, number: int, raw: bytes) -> Iterator[Record | BadRecord]:
    location = f"{path}:{number}"
    if not raw.strip():
        return
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        yield BadRecord(location, f"invalid UTF-8 at byte {exc.start}")
        return
    except (ValueError, RecursionError) as exc:
        yield BadRecord(location, f"invalid JSON: {str(exc)[:120]}")
        return
    if not isinstance(value, dict):
        yield BadRecord(location, f"expected a JSON object, got {type(value).__name__}")
        return
    value.setdefault("id", _stable_id(path, f"-{number}"))
    yield Record(location, value)


def _json(path: Path, stream: BinaryIO) -> Iterator[Record | BadRecord]:
    """A JSON array's objects as records, decoded one at a time (``json_array``: an
    export of a million articles is never held whole), or one object."""
    try:
        for number, item in json_items(stream):
            location = f"{path}:{number}" if number else str(path)
            if item is NOT_UTF8:
                yield BadRecord(location, "invalid UTF-8")
                continue
            if not isinstance(item, dict):
                yield BadRecord(location, f"expected a JSON object, got {type(item).__name__}")
                continue
            item.setdefault("id", _stable_id(path, f"-{number}" if number else ""))
            yield Record(location, item)
    except JsonArrayError as exc:
        location = f"{path}:{exc.number}" if exc.number else str(path)
        yield BadRecord(location, str(exc)[:160])


def _csv(path: Path, stream: BinaryIO) -> Iterator[Record | BadRecord]:
    """Rows as records, read as they come (a CSV of millions of rows is never held
    whole); a row holding bytes that are not UTF-8 is skipped, the others kept."""
    # Bad bytes decode to lone surrogates (and are found per row), not an error that
    # would lose the rows decoded with them.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    try:
        for row in reader:
            location = f"{path}:{reader.line_num}"
            if None in row:
                yield BadRecord(location, "more values than header columns")
                continue
            if any(unicode_problem(v) for v in (*row.keys(), *row.values()) if v):
                yield BadRecord(location, "invalid UTF-8")
                continue
            record = {k: v for k, v in row.items() if k and v not in (None, "")}
            if "related" in record:
                record["related"] = [r.strip() for r in record["related"].split("|") if r.strip()]
            record.setdefault("id", _stable_id(path, f"-{reader.line_num}"))
            yield Record(location, record)
    except csv.Error as exc:
        yield BadRecord(f"{path}:{reader.line_num}", f"invalid CSV: {exc}")
    finally:
        text.detach()  # the stream is its opener's to close


def _text(path: Path, stream: BinaryIO) -> Iterator[Record | BadRecord]:
    data = stream.read()
    if b"\x00" in data:
        yield BadRecord(str(path), "binary file (contains NUL bytes)")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield BadRecord(str(path), f"invalid UTF-8 at byte {exc.start}")
        return
    record = parse_article_text(text)
    record["id"] = _stable_id(path)
    yield Record(str(path), record)


_READERS = {
    ".jsonl": _json_lines,
    ".ndjson": _json_lines,
    ".json": _json,
    ".csv": _csv,
    ".txt": _text,
}


def read_records(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record | BadRecord]:
    """Records from files and folders; bad ones as ``BadRecord`` with file:line."""
    for item in input_files(paths):
        if isinstance(item, BadRecord):
            yield item
            continue
        try:
            opened = _open_stream(item)
        except OSError as exc:
            yield BadRecord(str(item), f"cannot read: {exc}")
            continue
        with opened as stream:
            yield from _checked(item, stream)


def _checked(item: Path, stream: BinaryIO) -> Iterator[Record | BadRecord]:
    """A file's records as read (``normalize_record`` validates them, once)."""
    try:
        kind = ".jsonl" if str(item) == STDIN else _kind(item) or ""
        yield from _READERS[kind](item, stream)
    except (OSError, EOFError) as exc:  # a damaged gzip stream, a read error
        yield BadRecord(str(item), f"cannot read: {exc}")


@dataclass
class IngestSummary:
    """What ``index_paths`` did: counts, and the first ``MAX_REPORTED`` bad records
    with their reasons (``skipped`` counts them all)."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    bad: list[BadRecord] = field(default_factory=list)

    def skip(self, bad: BadRecord) -> None:
        """Count a bad record, kept with its reason if fewer than ``MAX_REPORTED`` are."""
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(bad)
        self.skipped += 1

    def add_up(self, other: IngestSummary) -> None:
        """Add another summary's counts and bad records (up to ``MAX_REPORTED``)."""
        self.added += other.added
        self.updated += other.updated
        self.skipped += other.skipped
        self.bad += other.bad[: max(0, MAX_REPORTED - len(self.bad))]


def index_paths(
    index: Any,
    paths: Iterable[str | os.PathLike[str]],
    *,
    batch_size: int = 10_000,
    on_progress: Any = None,
) -> IngestSummary:
    """Index every good record under ``paths`` in batches (one commit each).

    Bad records are collected in the summary and skipped; ``on_progress(n)`` is called
    after each batch with the number of records it handled.
    """
    summary = IngestSummary()
    batch: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        if not batch:
            return
        existing = index.count_existing(batch)
        index.add(list(batch.values()))
        summary.added += len(batch) - existing
        summary.updated += existing
        if on_progress is not None:
            on_progress(len(batch))
        batch.clear()

    for entry in read_records(paths):
        if isinstance(entry, BadRecord):
            summary.skip(entry)
            continue
        try:
            doc = normalize_record(entry.data)
        except DocumentError as exc:
            summary.skip(BadRecord(entry.location, str(exc)))
            continue
        if doc["id"] in batch:
            flush()  # the same id twice: the later record must replace the earlier
        batch[doc["id"]] = doc  # validated: Index.add takes it as it is
        if len(batch) >= batch_size:
            flush()
    flush()
    return summary
