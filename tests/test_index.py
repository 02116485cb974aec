"""Integration tests of Index: lifecycle, upserts, deletes, validation, locking."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timezone

import pytest

import searchlib
from searchlib import (
    Article,
    DocumentError,
    Index,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
)
from searchlib.engine.schema import FORMAT_VERSION


def test_create_open_and_context_manager(tmp_path, articles):
    path = tmp_path / "ix"
    with Index.create(path) as ix:
        assert len(ix) == 0
        assert ix.add(articles) == len(articles)
    with Index.open(path) as ix:
        assert len(ix) == len(articles)
        assert ix.get("a2")["title"].startswith("Taliban")
    with Index.open_or_create(path) as ix:
        assert len(ix) == len(articles)
    with Index.open_or_create(tmp_path / "fresh") as ix:
        assert len(ix) == 0


def test_open_missing_or_foreign_directory(tmp_path):
    with pytest.raises(IndexNotFoundError, match="does not exist"):
        Index.open(tmp_path / "nope")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("hello")
    with pytest.raises(IndexNotFoundError, match="no searchlib index"):
        Index.open(foreign)
    with pytest.raises(searchlib.SearchlibError, match="not empty"):
        Index.open_or_create(foreign)
    with pytest.raises(searchlib.SearchlibError, match="not empty"):
        Index.create(foreign)


def test_incompatible_format_asks_for_rebuild(tmp_path):
    path = tmp_path / "ix"
    Index.create(path).close()
    (path / "searchlib.json").write_text(json.dumps({"format": 999}))
    with pytest.raises(IndexVersionError, match="rebuild"):
        Index.open(path)


def test_upsert_by_id_and_get(index):
    before = len(index)
    index.add({"id": "a1", "title": "Judul baru", "body": "Isi baru tentang jembatan."})
    assert len(index) == before
    assert index.get("a1")["title"] == "Judul baru"
    assert index.search("jembatan").ids() == ["a1"]
    assert index.search("Bekasi tol").total == 0 or "a1" not in index.search("tol").ids()


def test_duplicate_ids_in_one_call_keep_the_last(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add([{"id": "x", "body": "pertama"}, {"id": "x", "body": "kedua"}])
        assert len(ix) == 1 and ix.get("x")["body"] == "kedua"


def test_article_objects_extra_fields_and_dates(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add(
            [
                Article(
                    id="1",
                    title="Judul",
                    body="Isi artikel",
                    published=date(2021, 8, 31),
                    related=["Berita lain"],
                    extra={"author": "Budi", "tags": ["a", "b"]},
                ),
                {
                    "id": 2,
                    "body": "Isi",
                    "published": datetime(2021, 1, 2, 3, 4, tzinfo=timezone.utc),
                    "views": 10,
                },
            ]
        )
        one = ix.get("1")
        assert one["published"] == "2021-08-31T00:00:00+00:00"
        assert one["related"] == ["Berita lain"]
        assert one["author"] == "Budi" and one["tags"] == ["a", "b"]
        assert ix.get("2")["views"] == 10
        assert ix.get("missing") is None
        assert "1" in ix and "3" not in ix


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"title": "x", "body": "y"}, "id"),
        ({"id": "", "body": "y"}, "id"),
        ({"id": ["x"], "body": "y"}, "id"),
        ({"id": "x", "body": 5}, "body"),
        ({"id": "x", "body": "  "}, "body"),
        ({"id": "x", "body": "y", "published": "kemarin"}, "published"),
        ({"id": "x", "body": "y", "related": [1, 2]}, "related"),
        ({"id": "x", "body": "y", "category": {"a": 1}}, "category"),
        ({"id": "x", "body": "y", "score": float("nan")}, "score"),
    ],
)
def test_bad_record_names_record_and_field_and_loses_nothing(index, record, field):
    before = sorted(index.ids())
    with pytest.raises(DocumentError) as excinfo:
        index.add([{"id": "ok", "body": "baik"}, record])
    assert excinfo.value.field == field
    assert repr(field) in str(excinfo.value) or field in str(excinfo.value)
    assert sorted(index.ids()) == before


def test_non_record_is_rejected(index):
    with pytest.raises(DocumentError, match="dict"):
        index.add([42])
    with pytest.raises(TypeError):
        index.add("not records")


def test_delete(index):
    assert index.delete(["a1", "a2", "nope"]) == 2
    assert index.get("a1") is None
    assert "a1" not in index.search("Bekasi").ids()
    assert index.delete("nope") == 0
    assert len(index) == 6


def test_documents_stream_the_commit_current_when_iteration_starts(tmp_path):
    ix = Index.create(tmp_path / "ix", workers=1)
    for start in range(0, 30, 10):  # three segments
        ix.add([{"id": f"d{n}", "body": f"kata{n}", "tag": n} for n in range(start, start + 10)])
    ix.delete(["d3", "d15"])
    articles = ix.documents()
    first = next(articles)
    ix.add([{"id": "late", "body": "ditambahkan kemudian"}])  # after iteration began
    ix.delete(["d29"])
    rest = [first, *articles]
    assert [a["id"] for a in rest] == [f"d{n}" for n in range(30) if n not in (3, 15)]
    assert rest[5] == {**ix.get("d6"), "tag": 6} and rest[5]["tag"] == 6
    assert len(list(ix.documents())) == 28 and "late" in {a["id"] for a in ix.documents()}
    ix.close()


def test_documents_let_the_stores_pages_go_as_they_are_read(tmp_path, monkeypatch):
    # An export reads every block once: the stores' pages are released every
    # RELEASE_EVERY documents, so a million articles do not stay resident.
    from searchlib.engine import docstore, snapshot

    released = []
    monkeypatch.setattr(snapshot, "RELEASE_EVERY", 4)
    real = docstore.DocStoreReader.release
    monkeypatch.setattr(
        docstore.DocStoreReader, "release", lambda self: (released.append(1), real(self))[1]
    )
    ix = Index.create(tmp_path / "ix", workers=1)
    ix.add([{"id": f"d{n}", "body": f"kata{n}"} for n in range(10)])
    assert [a["id"] for a in ix.documents()] == [f"d{n}" for n in range(10)]
    assert len(released) == 2  # after the 4th and the 8th
    ix.close()


@pytest.mark.parametrize("batch_size", [1, 3, 40])
def test_upserts_and_deletes_over_many_segments(tmp_path, batch_size):
    # Few ids are looked up one by one, many by one pass over the id terms: same result.
    ix = Index.create(tmp_path / "ix", workers=1)
    for start in range(0, 40, 5):  # eight segments
        ix.add([{"id": f"d{n}", "body": f"kata{n} umum"} for n in range(start, start + 5)])
    ids = [f"d{n}" for n in range(0, 40, 40 // batch_size)][:batch_size]
    ix.add([{"id": doc_id, "body": "vulkanologi umum"} for doc_id in ids])
    assert len(ix) == 40 and ix.search("vulkanologi").total == len(ids)
    assert sorted(ix.ids()) == sorted(f"d{n}" for n in range(40))
    assert ix.delete([*ids, "absent"]) == len(ids)
    assert len(ix) == 40 - len(ids) and ix.search("vulkanologi").total == 0
    assert ix.check() == []


def test_searcher_sees_commits_from_another_index_object(tmp_path, articles):
    path = tmp_path / "ix"
    writer = Index.create(path)
    reader = Index.open(path)
    assert reader.search("Bekasi").total == 0
    writer.add(articles)
    assert reader.search("Bekasi").ids() == ["a1"]
    writer.delete("a1")
    assert reader.search("Bekasi").total == 0


def test_second_writer_waits_then_raises_locked(tmp_path):
    from searchlib.engine.storage import WriterLock

    path = tmp_path / "ix"
    ix = Index.create(path, lock_timeout=0.2)
    holder = WriterLock(ix.path, 1).acquire()
    try:
        with pytest.raises(IndexLockedError, match=r"pid \d+"):
            ix.add({"id": "x", "body": "y"})
    finally:
        holder.release()
    assert ix.add({"id": "x", "body": "y"}) == 1


def test_threads_of_one_process_queue_their_writes(tmp_path):
    ix = Index.create(tmp_path / "ix", lock_timeout=0.1)
    errors = []

    def write(n):
        try:
            for i in range(5):
                ix.add({"id": f"{n}-{i}", "body": f"berita nomor {n} {i}"})
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ix) == 20


def test_stats_and_check(index):
    stats = index.stats()
    assert stats["articles"] == 8
    assert stats["distinct_terms"]["body"] > 50
    assert stats["size_bytes"] > 0 and stats["format_version"] == FORMAT_VERSION
    assert index.check() == []


def test_analyzer_is_stored_with_the_index(tmp_path):
    path = tmp_path / "ix"
    Index.create(path, analyzer=searchlib.Analyzer(extra_stopwords=["jembatan"])).close()
    with Index.open(path) as ix:
        ix.add({"id": "1", "body": "jembatan baru dibangun"})
        assert ix.search("jembatan").total == 0
        assert ix.search("bangun").total == 1


def test_create_interrupted_before_its_marker_is_redone(tmp_path):
    path = tmp_path / "ix"
    Index.create(path).close()
    (path / "searchlib.json").unlink()  # as if killed between the TOC and the marker
    with pytest.raises(IndexNotFoundError):
        Index.open(path)
    with Index.open_or_create(path) as ix:
        assert ix.add({"id": "1", "body": "baru"}) == 1


def test_backup_is_a_consistent_copy(tmp_path):
    from searchlib.errors import IndexWriteError

    with Index.create(tmp_path / "ix") as ix:
        ix.add([{"id": str(i), "body": f"gempa warga {i}"} for i in range(30)])
        copy = ix.backup(tmp_path / "copy")
        ix.add({"id": "later", "body": "gempa"})
        with pytest.raises(IndexWriteError, match="exists"):
            ix.backup(tmp_path / "copy")
    with Index.open(copy) as restored:
        assert len(restored) == 30 and "later" not in restored
        assert restored.check() == [] and restored.search("gempa").total == 30


def test_every_record_is_validated_once_by_one_rule(tmp_path, monkeypatch):
    from searchlib import document
    from searchlib.ingest import index_paths

    calls = []
    describe = document._describe
    monkeypatch.setattr(document, "_describe", lambda *a: calls.append(a) or describe(*a))
    source = tmp_path / "a.jsonl"
    lines = [{"id": f"r{n}", "body": f"gempa {n}"} for n in range(5)]
    lines.append({"id": "headline", "title": "hanya judul"})  # a title alone is an article
    source.write_text("\n".join(json.dumps(r) for r in lines), "utf-8")
    with Index.create(tmp_path / "ix") as ix:
        summary = index_paths(ix, [source])
        assert summary.added == 6 and len(calls) == 6
        calls.clear()
        ix.add([{"id": "x", "title": "judul saja"}])
        assert len(calls) == 1 and ix.get("x")["body"] == ""
