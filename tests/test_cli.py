"""The search CLI through click's CliRunner: every command, errors and exit codes."""

from __future__ import annotations

import gzip
import json

import pytest
from click.testing import CliRunner

from searchlib import Index
from searchlib.cli import cli, main
from searchlib.engine import scheduler

from .conftest import ARTICLES
from .test_background_merge import _held_merges


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n", "utf-8")
    return path


@pytest.fixture
def index_dir(tmp_path, runner, corpus_file):
    path = tmp_path / "ix"
    result = runner.invoke(cli, ["--index", str(path), "index", str(corpus_file)])
    assert result.exit_code == 0, result.output
    return path


def run(runner, *args, **kwargs):
    return runner.invoke(cli, [str(a) for a in args], **kwargs)


def test_help_lists_every_command_with_examples(runner):
    result = run(runner, "--help")
    assert result.exit_code == 0
    for command in ("query", "index", "analyze", "stats", "delete", "similar", "check"):
        assert command in result.output
        sub = run(runner, command, "-h")
        assert sub.exit_code == 0 and "Example" in sub.output


def test_version(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0 and "searchlib" in result.output


def test_index_reports_counts(runner, tmp_path, corpus_file):
    result = run(runner, "--index", tmp_path / "ix", "index", corpus_file)
    assert result.exit_code == 0
    assert "added 8, updated 0, skipped 0; 8 articles" in result.output
    again = run(runner, "--index", tmp_path / "ix", "index", corpus_file)
    assert "added 0, updated 8, skipped 0" in again.output
    rebuilt = run(runner, "--index", tmp_path / "ix", "index", "--rebuild", corpus_file)
    assert "added 8, updated 0" in rebuilt.output


def test_an_index_inside_the_folder_indexed_is_not_read_as_articles(runner, tmp_path, corpus_file):
    # The index kept beside (or inside) its sources: its marker and commit points are
    # JSON files, but not articles; naming the index itself is refused.
    index = tmp_path / "ix"
    first = run(runner, "--index", index, "index", corpus_file)
    assert first.exit_code == 0
    again = run(runner, "--index", index, "index", tmp_path)
    assert again.exit_code == 0, again.output
    assert "added 0, updated 8, skipped 0; 8 articles" in again.output
    assert "commit" not in again.output and "searchlib.json" not in again.output
    itself = run(runner, "--index", tmp_path / "other", "index", index)
    assert f"skipped {index}: a searchlib index, not articles" in itself.output


def test_a_file_of_many_bad_lines_reports_the_first_and_counts_all(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = ["{not json"] * 1_500 + [json.dumps({"id": "good", "body": "berita"})]
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    result = run(runner, "--index", tmp_path / "ix", "index", bad)
    assert result.exit_code == 0
    assert "added 1, updated 0, skipped 1500" in result.output
    assert result.output.count("skipped ") == 1_000 + 1  # the first 1,000, and the count
    assert "... and 500 more skipped" in result.output


def test_an_index_of_another_format_exits_5_with_the_way_to_rebuild(runner, tmp_path):
    path = tmp_path / "ix"
    Index.create(path).close()
    (path / "searchlib.json").write_text(json.dumps({"format": 3}))
    result = run(runner, "--index", path, "stats")
    assert result.exit_code == 5
    assert f"rebuild with: search --index {path} index --rebuild FILES..." in result.output
    assert "search export" in result.output and "Traceback" not in result.output


def test_index_reads_json_lines_from_standard_input(runner, tmp_path):
    piped = '{"id": "p1", "body": "dari pipa"}\n{"body": "tanpa id"}\nrusak\n'
    result = run(runner, "--index", tmp_path / "ix", "index", "-", input=piped)
    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, skipped 1" in result.output and "skipped -:3" in result.output
    with Index.open(tmp_path / "ix") as index:
        assert sorted(index.ids()) == ["p1", "stdin-2"]


def test_export_writes_what_index_reads_back(runner, tmp_path, index_dir):
    run(runner, "--index", index_dir, "delete", "a2")
    exported = tmp_path / "copy.jsonl.gz"
    result = run(runner, "--index", index_dir, "export", exported)
    assert result.exit_code == 0, result.output
    assert "exported 7 articles" in result.output
    assert not list(tmp_path.glob("*.partial"))
    again = run(runner, "--index", index_dir, "export", exported)
    assert again.exit_code == 1 and "already exists" in again.output
    rebuilt = run(runner, "--index", tmp_path / "copy", "index", exported)
    assert "added 7, updated 0, skipped 0" in rebuilt.output
    with Index.open(index_dir) as source, Index.open(tmp_path / "copy") as copy:
        assert copy.ids() == source.ids() and "a2" not in copy
        assert [copy.get(i) for i in copy.ids()] == [source.get(i) for i in source.ids()]
    plain = run(runner, "--index", index_dir, "export")
    lines = [json.loads(line) for line in plain.stdout.splitlines()]
    with Index.open(index_dir) as source:
        assert [article["id"] for article in lines] == source.ids()


def test_query_without_subcommand(runner, index_dir):
    result = run(runner, "--index", index_dir, "evakuasi Kabul")
    assert result.exit_code == 0
    assert "1. Taliban kuasai Kabul" in result.output
    assert "jpnn.com · 2021-08-30 · internasional" in result.output
    assert "penerbangan evakuasi" in result.output


def test_query_options(runner, index_dir):
    result = run(
        runner,
        "--index",
        index_dir,
        "query",
        "pemerintah",
        "--category",
        "ekonomi",
        "--sort",
        "newest",
        "-n",
        "1",
        "--page",
        "2",
        "--facets",
    )
    assert result.exit_code == 0
    assert "2 results, showing 2-2" in result.output
    assert "Harga beras" in result.output
    assert "category: ekonomi (2)" in result.output


def test_query_json_parses_back(runner, index_dir):
    result = run(runner, "--index", index_dir, "query", "gempa", "--json")
    data = json.loads(result.output)
    assert data["total"] == 1 and data["hits"][0]["id"] == "a8"
    snippet = data["hits"][0]["snippet"]
    start, end = snippet["spans"][0]
    assert snippet["text"][start:end] == "Gempa"
    assert set(data) >= {"hits", "total", "facets", "suggestion", "took_ms"}


def test_explain(runner, index_dir):
    result = run(runner, "--index", index_dir, "query", "gempa", "--explain")
    assert "idf" in result.output and "body_exact" in result.output


def test_suggestion_is_shown(runner, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": str(i), "body": f"evakuasi warga {i}"}) for i in range(5))
    )
    run(runner, "--index", tmp_path / "ix", "index", path)
    result = run(runner, "--index", tmp_path / "ix", "evakuas1")
    assert "Did you mean: evakuasi" in result.output


def test_no_results_is_not_an_error_unless_asked(runner, index_dir):
    assert run(runner, "--index", index_dir, "zzzzqqq").exit_code == 0
    assert run(runner, "--index", index_dir, "query", "zzzzqqq", "--fail-empty").exit_code == 1


def test_no_color_and_non_terminal_output_is_plain(runner, index_dir):
    result = run(runner, "--index", index_dir, "gempa", env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.output


def test_analyze_table_and_json(runner):
    result = run(runner, "analyze", "Kedutaan negara-negara di Taliban")
    assert result.exit_code == 0
    for expected in ("duta", "stemmed", "reduplication", "stopword", "excluded", "0-8"):
        assert expected in result.output
    tokens = json.loads(run(runner, "analyze", "--json", "membangun").output)
    assert tokens[0]["term"] == "bangun" and tokens[0]["end"] == 9


def test_stats_delete_similar_check(runner, index_dir):
    stats = json.loads(run(runner, "--index", index_dir, "stats", "--json").output)
    assert stats["articles"] == 8
    text = run(runner, "--index", index_dir, "stats").output
    assert "articles" in text and "format version" in text
    similar = run(runner, "--index", index_dir, "similar", "a1")
    assert similar.exit_code == 0 and "similar articles" in similar.output
    assert "deleted 1 of 2" in run(runner, "--index", index_dir, "delete", "a1", "zz").output
    check = run(runner, "--index", index_dir, "check")
    assert check.exit_code == 0 and "ok: 7 articles" in check.output


def test_missing_index_is_a_one_line_error(runner, tmp_path):
    result = run(runner, "--index", tmp_path / "nothing", "gempa")
    assert result.exit_code == 3
    assert "hint:" in result.output and "Traceback" not in result.output


def test_similar_unknown_id(runner, index_dir):
    result = run(runner, "--index", index_dir, "similar", "nope")
    assert result.exit_code == 1 and "'nope'" in result.output


def test_bad_query_date_is_a_one_line_error(runner, index_dir):
    result = run(runner, "--index", index_dir, "published:2021-99")
    assert result.exit_code == 1
    assert "invalid date" in result.output and "hint:" in result.output


def test_locked_index_exit_code(runner, index_dir, corpus_file):
    from searchlib.engine.storage import WriterLock

    ix = Index.open(index_dir)
    holder = WriterLock(ix.path, 1).acquire()
    try:
        result = run(
            runner, "--index", index_dir, "delete", "a1", env={"SEARCHLIB_LOCK_TIMEOUT": "0.1"}
        )
    finally:
        holder.release()
    assert result.exit_code == 4 and "locked" in result.output


def test_usage_error_exit_code(runner):
    assert run(runner, "query").exit_code == 2
    assert run(runner, "query", "x", "--sort", "random").exit_code == 2


def test_zero_config_first_run_builds_from_samples(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("SEARCHLIB_INDEX", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = runner.invoke(cli, ["evakuasi Kabul"])
    assert result.exit_code == 0, result.output
    assert "building" in result.output
    assert "Kirim Senjata Andalan" in result.output
    assert (tmp_path / "data" / "searchlib" / "index" / "searchlib.json").exists()
    second = runner.invoke(cli, ["evakuasi Kabul"])
    assert "building" not in second.output


def test_index_file_formats_and_bad_records(runner, tmp_path, seed_file):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        '{"id": "j1", "body": "satu gempa"}\n{not json\n{"id": "j2", "body": 7}\n'
        '{"id": "j3", "title": "tanpa isi"}\n{"id": "j4", "body": "dua gempa"}\n',
        "utf-8",
    )
    (folder / "b.json").write_text(json.dumps([{"id": "k1", "body": "tiga gempa"}]), "utf-8")
    (folder / "c.csv").write_text(
        "id,title,body,category\nc1,Judul,empat gempa,nasional\n", "utf-8"
    )
    with gzip.open(folder / "d.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write('{"id": "g1", "body": "lima gempa"}\n')
    (folder / "e.jsonl").write_bytes(b'{"id": "u1", "body": "\xff\xfe"}\n')
    (folder / "seed.txt").write_text(seed_file.read_text("utf-8"), "utf-8")
    result = run(runner, "--index", tmp_path / "ix", "index", folder)
    assert result.exit_code == 0
    # One rule for every entry point: a record needs a title or a body (j3 has a title).
    assert "added 7, updated 0, skipped 3" in result.output
    assert "a.jsonl:2: invalid JSON" in result.output
    assert "a.jsonl:3" in result.output and "a.jsonl:4" not in result.output
    assert "e.jsonl:1: invalid UTF-8" in result.output
    with Index.open(tmp_path / "ix") as ix:
        assert sorted(ix.ids()) == ["c1", "g1", "j1", "j3", "j4", "k1", "seed"]
        assert ix.get("c1")["category"] == "nasional"


def test_main_turns_errors_into_exit_codes(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--index", str(tmp_path / "none"), "stats"])
    assert excinfo.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hint:" in err


def test_every_command_has_a_section_with_an_example_in_the_cli_reference():
    import importlib.util
    from pathlib import Path

    hooks = Path(__file__).resolve().parent.parent / "docs" / "hooks.py"
    spec = importlib.util.spec_from_file_location("docs_hooks", hooks)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reference = module.render_cli()
    for name, command in cli.commands.items():
        section = reference.split(f"### `search {name}`", 1)[1].split("### `", 1)[0]
        assert "Usage: search " + name in section, name
        if not hasattr(command, "commands"):  # a group's subcommands carry the examples
            assert "Example" in section, name


def test_a_damaged_index_is_a_one_line_error_and_check_names_the_file(runner, index_dir):
    store = next(index_dir.glob("*.sld"))
    data = bytearray(store.read_bytes())
    data[len(data) // 2] ^= 0x10
    store.write_bytes(bytes(data))
    result = run(runner, "--index", index_dir, "gempa")
    assert result.exit_code == 6
    (line,) = result.output.strip().splitlines()
    assert store.name in line and "hint: restore a backup or rebuild" in line
    assert "Traceback" not in result.output
    check = run(runner, "--index", index_dir, "check")
    assert check.exit_code == 6 and store.name in check.output


def test_backup_copies_the_last_commit_and_refuses_an_existing_destination(
    runner, index_dir, tmp_path
):
    target = tmp_path / "copy.idx"
    result = run(runner, "--index", index_dir, "backup", target)
    assert result.exit_code == 0, result.output
    with Index.open(index_dir) as original, Index.open(target) as copy:
        assert sorted(copy.ids()) == sorted(original.ids()) and len(copy) > 0
    assert run(runner, "--index", target, "check").exit_code == 0
    again = run(runner, "--index", index_dir, "backup", target)
    assert again.exit_code == 1
    assert "already exists" in again.output and "hint:" in again.output


def test_index_leaves_its_segments_merged(runner, tmp_path, monkeypatch):
    # Twenty commits of one article: the merge of the first ten is held until the
    # command waits for merges, so that of the next ten is still to start then; the
    # command finishes both before it returns (as closing the index does).
    started, release = _held_merges(monkeypatch)
    wait = scheduler.BackgroundMerger.wait

    def released_then_wait(merger):
        release.set()
        wait(merger)

    monkeypatch.setattr(scheduler.BackgroundMerger, "wait", released_then_wait)
    articles = [dict(ARTICLES[n % len(ARTICLES)], id=f"a{n}") for n in range(20)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in articles) + "\n", "utf-8")
    result = run(runner, "--index", tmp_path / "ix", "index", "--batch-size", 1, path)
    assert result.exit_code == 0, result.output
    assert started.is_set() and "added 20" in result.output
    stats = Index.open(tmp_path / "ix").stats()
    assert stats["segments"] == 2 and stats["articles"] == 20
