"""Hostile input: fuzzed queries, bad ingestion files, markup and control characters."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib import DocumentError, Index, QueryError
from searchlib.document import MAX_TEXT_LENGTH
from searchlib.ingest import index_paths

from .conftest import ARTICLES

COUNTS = {"queries": 0}

_syntax = st.sampled_from(
    [
        '"',
        "(",
        ")",
        "-",
        "+",
        "*",
        "~",
        ":",
        "AND",
        "OR",
        "NOT",
        "title:",
        "category:",
        "published:",
        "published:[",
        " TO ",
        "]",
        "{",
        "}",
        "nosuch:",
        "~2",
        "9" * 40,
        "published:>=",
        "\\",
        "&&",
        "||",
    ]
)
_words = st.sampled_from(
    [
        "gempa",
        "Kabul",
        "membangun",
        "yang",
        "evakuas1",
        "bangun*",
        "2021-08",
        "😀",
        "\u202e",
        "\x00",
        "e\u0301",
        "\ud800",  # unpaired surrogates: what "\\ud800" in JSON or a bad byte in argv gives
        "ab\udfff*",
    ]
)
queries = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_syntax, _words, st.text(max_size=8)), max_size=25).map(" ".join),
    st.lists(st.one_of(_syntax, _words), max_size=40).map("".join),
)


@pytest.fixture(scope="module")
def fuzz_index(tmp_path_factory):
    ix = Index.create(tmp_path_factory.mktemp("fuzz") / "ix")
    ix.add(ARTICLES)
    yield ix
    ix.close()
    print(f"\nhostile queries: {COUNTS['queries']} fuzzed searches, only results or QueryError")


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=queries)
def test_fuzzed_queries_give_results_or_query_error(fuzz_index, text):
    COUNTS["queries"] += 1
    try:
        results = fuzz_index.search(text, limit=5)
    except QueryError:
        return
    assert results.total >= len(results.hits)
    for hit in results:
        html = hit.snippet.html()
        assert "<script" not in html


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000,
        ")" * 10_000,
        '"' * 10_001,
        "kabul " * 2_000,
        "a" * 10_000,
        "-" * 5_000,
        "published:[" * 100,
        "x~" * 3000,
        "title:" * 3000,
        "9" * 10_000,
    ],
)
def test_huge_and_pathological_queries(fuzz_index, text):
    try:
        results = fuzz_index.search(text, limit=3)
    except QueryError as exc:
        # Refused with where it went wrong, never a crash or a hang.
        assert exc.position is not None and 0 <= exc.position <= len(text), exc
        return
    assert len(results) <= 3 and results.total >= len(results)
    assert all(fuzz_index.get(doc_id) is not None for doc_id in results.ids())


def test_unpaired_surrogates_in_queries_and_typed_text(fuzz_index):
    # ICU and UTF-8 have no form for them: they count as a non-word character.
    plain = fuzz_index.search("gempa", limit=3)
    for text in ("gempa \ud800", "\udfffgempa", '"gempa\udc80"', "gempa~1\ud800"):
        results = fuzz_index.search(text, limit=3)
        assert results.total >= 1 and all(hit.snippet.html() for hit in results), text
    assert fuzz_index.search("gempa\ud800*").total == 0  # a prefix no word has
    assert fuzz_index.search("gempa \ud800").ids() == plain.ids()
    assert fuzz_index.complete("gem\ud800").words == []
    words = [c.word for c in fuzz_index.complete("\ud800 gem").words]
    assert words == [c.word for c in fuzz_index.complete("gem").words] and words


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": "s1", "title": "x\ud800y", "body": "ok"}, "title"),
        ({"id": "s2", "body": "ok \udfff"}, "body"),
        ({"id": "s\udc80", "body": "ok"}, "id"),
        ({"id": "s3", "body": "ok", "source": "\ud800"}, "source"),
        ({"id": "s4", "body": "ok", "tags": ["a", {"k": "\ud800"}]}, "tags"),
        ({"id": "s5", "body": "ok", "related": ["\ud800"]}, "related"),
    ],
)
def test_records_with_unpaired_surrogates_are_refused(tmp_path, record, field):
    ix = Index.create(tmp_path / "ix")
    ix.add(ARTICLES[:2])
    with pytest.raises(DocumentError) as caught:
        ix.add([record])
    assert caught.value.field == field and repr(record["id"]) in str(caught.value)
    if field in ("title", "body", "id", "source", "tags"):
        assert "U+D" in str(caught.value)
    assert len(ix) == 2 and ix.get(str(ARTICLES[0]["id"])) is not None
    ix.close()


def test_huge_numbers_and_dates(fuzz_index):
    assert fuzz_index.search("published:[0001 TO 9999]").total == 7
    assert fuzz_index.search("published:>=1969-12-31").total == 7
    with pytest.raises(QueryError, match="99999"):
        fuzz_index.search("published:99999")


def test_hostile_ingestion_files(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        json.dumps({"id": "ok1", "body": "gempa pertama"}),
        '{"id": "bad-utf8", "body": "\xff"}'.encode("latin-1").decode("latin-1"),
        json.dumps({"id": "empty", "body": ""}),
        json.dumps({"body": "tanpa id"}),
        json.dumps({"id": "ok2", "body": "gempa kedua"}),
        json.dumps({"id": "ok2", "body": "gempa kedua versi baru"}),
        json.dumps({"id": ["list"], "body": "salah tipe id"}),
        json.dumps({"id": "wrong", "body": {"nested": True}}),
        '{"id": "deep", "body": "x", "extra": ' + deep + "}",
        json.dumps({"id": "big", "body": "gempa " * (20_000_000 // 6 + 1)}),
        "[1, 2, 3]",
    ]
    raw = "\n".join(lines).encode("utf-8").replace(b'"\xc3\xbf"', b'"\xff"')
    (folder / "mixed.jsonl").write_bytes(raw)
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (folder / "broken.json.gz").write_bytes(b"\x1f\x8bnot gzip")
    (folder / "empty.csv").write_text("")
    with Index.create(tmp_path / "ix") as ix:
        ix.add({"id": "before", "body": "sudah ada"})
        summary = index_paths(ix, [folder])
        ids = sorted(ix.ids())
        assert ix.check() == []
        assert ix.get("ok2")["body"] == "gempa kedua versi baru"
    reasons = {bad.location.rsplit("/", 1)[-1]: bad.reason for bad in summary.bad}
    print(f"\nhostile ingestion: {summary.added} added, {summary.skipped} skipped: {reasons}")
    assert "before" in ids and "ok1" in ids and "ok2" in ids
    assert "mixed-4" in ids  # no id: one is made from the file name and line
    assert summary.skipped == 9
    assert "invalid UTF-8" in reasons["mixed.jsonl:2"]
    assert "needs a non-empty 'title' or 'body'" in reasons["mixed.jsonl:3"]
    assert "too long" in reasons["mixed.jsonl:10"]
    assert "invalid JSON" in reasons["mixed.jsonl:9"]
    assert "binary" in reasons["binary.txt"]


def test_oversized_field_is_rejected_and_nothing_is_lost(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add({"id": "keep", "body": "tetap"})
        with pytest.raises(DocumentError, match="too long"):
            ix.add({"id": "big", "body": "x" * (MAX_TEXT_LENGTH + 1)})
        assert ix.ids() == ["keep"]


def test_foreign_files_are_refused(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "_MAIN_1.toc").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    from searchlib import IndexNotFoundError

    with pytest.raises(IndexNotFoundError):
        Index.open(fake)


def test_gzip_csv_and_control_characters_in_terminal_output(tmp_path):
    from click.testing import CliRunner

    from searchlib.cli import cli

    path = tmp_path / "evil.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('id,title,body\nx,"Judul \x1b[2J\x07","gempa \x1b]0;owned\x07 besar"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--index", str(tmp_path / "ix"), "index", str(path)]).exit_code == 0
    output = runner.invoke(cli, ["--index", str(tmp_path / "ix"), "gempa"]).output
    assert "\x1b[2J" not in output and "\x07" not in output and "\x1b]0" not in output


def test_csv_streams_and_a_row_of_bad_bytes_is_skipped_alone(tmp_path):
    # Rows are read as they come (the file is never decoded whole): a row of bytes that
    # are not UTF-8 is skipped with its line, the rows around it kept.
    rows = "".join(f"c{i},judul {i},berita nomor {i}\n" for i in range(3000))
    data = b"id,title,body\n" + rows.encode() + b"c-bad,\xff\xfe,x\nc-after,a,b\n"
    (tmp_path / "big.csv").write_bytes(data)
    ix = Index.create(tmp_path / "ix")
    summary = index_paths(ix, [tmp_path / "big.csv"], batch_size=1000)
    assert summary.added == 3001 and len(ix) == 3001 and "c-after" in ix and "c-bad" not in ix
    (bad,) = summary.bad
    assert bad.location.endswith("big.csv:3002") and bad.reason == "invalid UTF-8"
    ix.close()


def test_json_lines_stream_and_a_truncated_gzip_keeps_what_came_before(tmp_path):
    lines = b"".join(
        json.dumps({"id": f"x{i}", "body": f"berita nomor {i}"}).encode() + b"\n"
        for i in range(2000)
    )
    packed = gzip.compress(lines)
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    ix = Index.create(tmp_path / "ix")
    summary = index_paths(ix, [tmp_path / "cut.jsonl.gz"], batch_size=300)
    assert 0 < summary.added < 2000 and len(ix) == summary.added
    (bad,) = summary.bad
    assert bad.location == f"{tmp_path / 'cut.jsonl.gz'}:{summary.added + 1}"
    assert bad.reason.startswith("cannot read:")
