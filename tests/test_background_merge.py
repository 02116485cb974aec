"""Merges off the commit path: a commit returns before its merge, searches and writes
go on while a merge runs, and what changed meanwhile is carried into the merge."""

from __future__ import annotations

import os
import platform
import threading

import searchlib
from searchlib import indexing
from searchlib.engine import Snapshot, memory, scheduler
from searchlib.engine.merge import MergePolicy
from searchlib.engine.storage import WriterLock

from .test_equivalence import _answers, _corpus, _queries


def _held_merges(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make background merges start, then wait for ``release`` before writing."""
    started, release = threading.Event(), threading.Event()
    merge = scheduler.merge_segments

    def held(*args):
        started.set()
        assert release.wait(30), "the test never released the merge"
        return merge(*args)

    monkeypatch.setattr(scheduler, "merge_segments", held)
    return started, release


def _index(tmp_path, name="ix") -> searchlib.Index:
    ix = searchlib.Index.create(tmp_path / name, workers=1)
    ix._engine.merge_policy = MergePolicy(factor=3, floor=1)
    return ix


def _merging(tmp_path, monkeypatch, docs: list[dict]) -> tuple[searchlib.Index, threading.Event]:
    """Three commits of 30 of ``docs``, whose merge has started and waits for the
    event returned."""
    started, release = _held_merges(monkeypatch)
    ix = _index(tmp_path)
    for start in range(0, 90, 30):
        ix.add(docs[start : start + 30])
    assert started.wait(10)  # the third commit returned; its merge is under way
    return ix, release


def test_commits_return_before_their_merge_and_writes_and_searches_go_on(tmp_path, monkeypatch):
    docs = _corpus(120)
    queries = _queries(docs, 30)
    ix, release = _merging(tmp_path, monkeypatch, docs)
    assert ix._engine.merger.running and ix.stats()["segments"] == 3
    # Meanwhile: searches, a delete in a segment being merged, an upsert, a new add.
    assert ix.search("gempa").total > 0
    ix.delete(["d5", "d40"])
    ix.add(dict(docs[70], title="judul baru"))
    ix.add(docs[90:])
    assert len(ix) == 118
    release.set()
    ix.wait_for_merges()
    assert ix._engine.merger.merges_done >= 1 and ix.stats()["segments"] < 5
    assert len(ix) == 118 and ix.check() == []
    assert ix.get("d5") is None and ix.get("d40") is None
    assert ix.get("d70")["title"] == "judul baru"
    reference = searchlib.Index.create(tmp_path / "reference", workers=1)
    expected = [d for d in docs if d["id"] not in ("d5", "d40")]
    expected = [dict(d, title="judul baru") if d["id"] == "d70" else d for d in expected]
    reference.add(expected)
    assert sorted(ix.ids()) == sorted(reference.ids())
    for mine, theirs in zip(_answers(ix, queries), _answers(reference, queries), strict=True):
        assert {i for i, _ in mine} == {i for i, _ in theirs}


def test_a_merge_whose_sources_were_taken_meanwhile_is_dropped(tmp_path, monkeypatch):
    docs = _corpus(90)
    ix, release = _merging(tmp_path, monkeypatch, docs)
    ix._engine.background_merges = False
    ix.optimize()  # takes every segment, the merge's sources among them
    release.set()
    ix.wait_for_merges()
    assert ix.stats()["segments"] == 1 and len(ix) == 90 and ix.check() == []
    committed = ix._engine.latest_commit().file_names()
    assert {p.name for p in ix.path.glob("seg_*")} == committed
    assert not list(ix.path.glob("merging.*"))


def test_another_process_sees_only_whole_commits_while_merges_run(tmp_path):
    docs = _corpus(200)
    queries = _queries(docs, 20)
    ix = _index(tmp_path)
    reader = searchlib.Index.open(tmp_path / "ix")
    for start in range(0, 200, 10):
        ix.add(docs[start : start + 10])
        assert len(reader) == start + 10  # merges never hide or double a document
    ix.wait_for_merges()
    assert _answers(reader, queries) == _answers(ix, queries)
    assert ix.stats()["segments"] < 10


def test_a_killed_merge_leaves_only_its_folder_removed_at_open(tmp_path):
    ix = _index(tmp_path)
    ix.add(_corpus(10))
    dead = tmp_path / "ix" / "merging.999999999.cafe"  # no such process
    dead.mkdir()
    (dead / "seg_0.sld").write_bytes(b"half a merge")
    mine = tmp_path / "ix" / f"merging.{os.getpid()}.beef"
    mine.mkdir()
    searchlib.Index.open(tmp_path / "ix").close()
    assert not dead.exists() and mine.exists()  # a live process's merge is left alone


def test_check_follows_a_merge_that_replaced_its_commit(tmp_path, monkeypatch):
    docs = _corpus(90)
    ix, release = _merging(tmp_path, monkeypatch, docs)
    verify = Snapshot.verify
    generations = []

    def merge_first(snapshot):
        generations.append(snapshot.generation)
        if len(generations) == 1:  # the merge commits while this check has begun
            release.set()
            ix.wait_for_merges()
        return verify(snapshot)

    monkeypatch.setattr(Snapshot, "verify", merge_first)
    assert ix.check() == []
    assert len(generations) == 2 and generations[0] < generations[1]


def _pending_merge(tmp_path, monkeypatch) -> tuple[searchlib.Index, threading.Event]:
    """Six one-article commits: the merge of the first three runs (held until the
    event returned is set), that of the next three is asked for and waits its turn."""
    started, release = _held_merges(monkeypatch)
    ix = _index(tmp_path)
    docs = _corpus(6)
    for doc in docs[:3]:
        ix.add(doc)
    assert started.wait(10)
    for doc in docs[3:]:
        ix.add(doc)
    assert ix.stats()["segments"] == 6
    return ix, release


def test_closing_finishes_the_merges_its_commits_asked_for(tmp_path, monkeypatch):
    ix, release = _pending_merge(tmp_path, monkeypatch)
    threading.Timer(0.2, release.set).start()
    ix.close()  # as Lucene's IndexWriter.close: the pending merge runs too
    reopened = searchlib.Index.open(tmp_path / "ix")
    assert reopened.stats()["segments"] == 2 and len(reopened) == 6
    assert reopened.check() == []


def test_closing_without_waiting_leaves_the_pending_merge_to_the_next_writer(tmp_path, monkeypatch):
    ix, release = _pending_merge(tmp_path, monkeypatch)
    threading.Timer(0.2, release.set).start()
    ix.close(wait_for_merges=False)  # the running merge still completes its commit
    reopened = searchlib.Index.open(tmp_path / "ix")
    assert reopened.stats()["segments"] == 4 and len(reopened) == 6
    reopened._engine.merge_policy = MergePolicy(factor=3, floor=1)
    reopened.add(_corpus(7)[6])  # the next commit asks for the merges left
    reopened.wait_for_merges()
    assert reopened.stats()["segments"] < 4 and len(reopened) == 7


def test_closing_while_another_writer_holds_the_lock_leaves_the_merges(tmp_path, monkeypatch):
    ix, release = _pending_merge(tmp_path, monkeypatch)
    waits: list[float] = []

    class RecordedLock(WriterLock):
        def __init__(self, folder, timeout):
            waits.append(timeout)
            super().__init__(folder, timeout)

    monkeypatch.setattr(scheduler, "WriterLock", RecordedLock)
    other = WriterLock(tmp_path / "ix", 0).acquire()  # another process, mid-write
    try:
        threading.Timer(0.2, release.set).start()
        ix.close()
    finally:
        other.release()
    # The running merge waited briefly and was dropped; the pending one never started.
    assert waits and max(waits) <= scheduler.CLOSING_LOCK_WAIT < scheduler.LOCK_WAIT
    reopened = searchlib.Index.open(tmp_path / "ix")
    assert reopened.stats()["segments"] == 6 and len(reopened) == 6
    assert reopened.check() == [] and not list(reopened.path.glob("merging.*"))


def test_the_write_path_gives_freed_memory_back(tmp_path, monkeypatch):
    # After a parallel batch and after each merge the heap's freed pages go back to
    # the system (glibc keeps them otherwise: 388 MB resident after 60,000 articles,
    # 174 MB with this): counted here, without depending on the C library.
    calls = []
    monkeypatch.setattr(indexing, "release_free_memory", lambda: calls.append("batch"))
    monkeypatch.setattr(scheduler, "release_free_memory", lambda: calls.append("merge"))
    monkeypatch.setattr(indexing, "PARALLEL_MIN_DOCS", 4)
    with searchlib.Index.create(tmp_path / "ix", workers=2) as ix:
        ix._engine.merge_policy = MergePolicy(factor=2, floor=1)
        for batch in range(2):
            ix.add(
                [{"id": f"{batch}-{n}", "title": "berita", "body": f"isi {n}"} for n in range(6)]
            )
    assert "batch" in calls and "merge" in calls
    # glibc's malloc_trim is there to call (CI and this project's machines run glibc).
    assert memory.release_free_memory() is (platform.libc_ver()[0] == "glibc")
