"""The documentation's examples run, and show what they print.

Every page of ``docs/`` and the README is run top to bottom in a fresh directory, as a
reader would follow it:

- a fenced block with a ``title="NAME"`` is written to the file NAME;
- ``console`` blocks: each ``$ search ...`` line runs through the CLI and its output
  must match the lines under it (timings, commit times and byte sizes aside; a line
  ``...`` stands for any lines);
- ``python`` blocks run in one namespace per page; ``>>>`` blocks are doctests;
- ``<!-- test ... -->`` comments hold checks a page runs unseen (a framework's test
  client calling the example app, say).

``sh`` blocks (installs, servers, benchmarks of hours) are shown, not run.
"""

from __future__ import annotations

import doctest
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchlib.cli import cli
from searchlib.index import Index

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<attrs>.*)$")
TITLE = re.compile(r'title="(?P<name>[^"]+)"')


@dataclass
class Block:
    kind: str  # a fence's language, or "hidden" for a <!-- test --> comment
    code: str
    line: int  # where it starts in the page (1-based)
    file: str | None = None


def blocks(text: str) -> list[Block]:
    """The fenced blocks and hidden checks of a Markdown page, in order."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line.strip()) if line.strip().startswith("```") else None
        if fence and line.strip() != "```":
            title = TITLE.search(fence["attrs"])
            start, i = i + 1, i + 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            found.append(
                Block(
                    fence["lang"],
                    "\n".join(lines[start:i]) + "\n",
                    start,
                    title["name"] if title else None,
                )
            )
        elif line.strip() == "<!-- test":
            start, i = i + 1, i + 1
            while i < len(lines) and lines[i].strip() != "-->":
                i += 1
            found.append(Block("hidden", "\n".join(lines[start:i]) + "\n", start))
        i += 1
    return found


VOLATILE = [
    (re.compile(r"\(\d+(\.\d+)? ms\)"), "(N ms)"),
    (re.compile(r'"took_ms": [\d.]+'), '"took_ms": N'),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "DATETIME"),
    (re.compile(r"[\d,]+ bytes"), "N bytes"),
]


def normalized(output: str) -> str:
    for pattern, replacement in VOLATILE:
        output = pattern.sub(replacement, output)
    return "\n".join(line.rstrip() for line in output.splitlines()).strip() + "\n"


def console_steps(code: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"console block has output before a command: {line!r}")
    return [(command, "\n".join(out)) for command, out in steps]


CHECKER = doctest.OutputChecker()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def run_console(runner: CliRunner, block: Block, where: str) -> None:
    for command, expected in console_steps(block.code):
        argv = shlex.split(command)
        if argv[0] != "search":
            raise AssertionError(f"{where}: console blocks run `search` only; got {command!r}")
        result = runner.invoke(cli, argv[1:], catch_exceptions=False)
        got = normalized(result.output)
        want = normalized(expected)
        if not CHECKER.check_output(want, got, FLAGS):
            raise AssertionError(
                f"{where}: `{command}` (exit {result.exit_code}) printed\n{got}\n"
                f"the page shows\n{want}"
            )


def run_python(block: Block, namespace: dict, where: str) -> None:
    if ">>>" in block.code:
        test = doctest.DocTestParser().get_doctest(block.code, namespace, where, where, 0)
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        runner.run(test, clear_globs=False)
        namespace.update(test.globs)  # a DocTest runs on a copy: later blocks see its names
        if runner.failures:
            raise AssertionError(f"{where}: {runner.failures} doctest example(s) failed")
        return
    exec(compile(block.code, where, "exec"), namespace)


def tutorial_archive(path: str = "news.idx") -> None:
    """The tutorial's ``news.jsonl``, and its articles indexed at ``path``: the archive
    the guides search."""
    tutorial = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    (lines,) = [b.code for b in blocks(tutorial) if b.file == "news.jsonl"]
    Path("news.jsonl").write_text(lines, encoding="utf-8")
    with Index.create(path) as index:
        index.add(json.loads(line) for line in lines.splitlines() if line.strip())


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SEARCHLIB_INDEX", raising=False)
    monkeypatch.delenv("SEARCHLIB_CLUSTER", raising=False)
    (tmp_path / "seeds").symlink_to(ROOT / "seeds")
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "88", "TERM": "dumb"})
    namespace: dict = {"__name__": "docs_example", "tutorial_archive": tutorial_archive}
    try:
        for block in blocks(page.read_text(encoding="utf-8")):
            where = f"{page.relative_to(ROOT)}:{block.line}"
            if block.file:
                (tmp_path / block.file).write_text(block.code, encoding="utf-8")
            elif block.kind == "console":
                run_console(runner, block, where)
            elif block.kind in ("python", "pycon", "hidden"):
                run_python(block, namespace, where)
    finally:
        for value in list(namespace.values()):
            if type(value).__name__ in ("Index", "ClusterIndex"):  # what a page left open
                value.close()


def test_blocks_are_found() -> None:
    page = (
        'intro\n```json title="a.jsonl"\n{}\n```\n<!-- test\nx = 1\n-->\n'
        "```console\n$ search stats\nok\n```\n"
    )
    found = blocks(page)
    assert [(b.kind, b.file) for b in found] == [
        ("json", "a.jsonl"),
        ("hidden", None),
        ("console", None),
    ]
    assert console_steps(found[2].code) == [("search stats", "ok")]


def test_a_wrong_output_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    block = Block("console", "$ search analyze kucing\nthis is not what it prints\n", 1)
    with pytest.raises(AssertionError, match="the page shows"):
        run_console(CliRunner(env={"NO_COLOR": "1"}), block, "here")


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").rglob("*.md"):
        assert str(page.relative_to(ROOT / "docs")) in nav, page


def test_the_http_reference_covers_every_route(tmp_path: Path) -> None:
    from searchlib.server import OPENAPI, create_app

    with Index.create(tmp_path / "ix") as index:
        routes = {
            (route.path.replace("{doc_id:path}", "{id}"), method.lower())
            for route in create_app(index).routes
            for method in route.methods - {"HEAD"}
            if route.path != "/"  # the page, not the API
        }
    described = {(path, method) for path, methods in OPENAPI["paths"].items() for method in methods}
    assert routes == described


def test_the_version_is_the_package_metadata() -> None:
    from importlib.metadata import version

    import searchlib

    assert version("searchlib") == searchlib.__version__
    assert f"## [{searchlib.__version__}]" in (ROOT / "CHANGELOG.md").read_text("utf-8")
