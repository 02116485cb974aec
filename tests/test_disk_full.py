"""A full disk during a commit or a merge (ENOSPC injected where index files are
written) raises a clear error and leaves the previous commit readable and whole."""

from __future__ import annotations

import errno
import warnings

import pytest

import searchlib
from searchlib.engine import storage
from searchlib.engine.merge import MergePolicy
from searchlib.errors import IndexWriteError

from .test_equivalence import _corpus


class _Disk:
    """Bytes left before writes fail with ENOSPC (None: unlimited)."""

    def __init__(self) -> None:
        self.left: int | None = None
        self.spent = 0

    def spend(self, size: int) -> None:
        self.spent += size
        if self.left is not None:
            if size > self.left:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= size


class _FullingFile:
    def __init__(self, raw, disk: _Disk) -> None:
        self._raw, self._disk = raw, disk

    def write(self, data) -> int:
        self._disk.spend(len(data))
        return self._raw.write(data)

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._raw.close()


@pytest.fixture()
def disk(monkeypatch):
    disk = _Disk()
    create_data_file = storage.create_data_file

    def data_file(path):
        return _FullingFile(create_data_file(path), disk)

    monkeypatch.setattr(storage, "create_data_file", data_file)
    return disk


def _state(ix: searchlib.Index) -> tuple:
    return len(ix), sorted(ix.ids()), [h.id for h in ix.search("gempa warga", limit=20)]


def _files(ix: searchlib.Index) -> set[str]:
    return {p.name for p in ix.path.iterdir() if p.suffix not in (".json", "")} - {"WRITELOCK"}


@pytest.mark.parametrize("fraction", [0, 0.01, 0.3, 0.95])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_disk_during_a_commit_changes_nothing(
    tmp_path, disk, monkeypatch, fraction, workers
):
    monkeypatch.setattr("searchlib.indexing.PARALLEL_MIN_DOCS", 50)
    docs = _corpus(300)
    twin = searchlib.Index.create(tmp_path / "twin", workers=workers)
    twin.add(docs[:150])
    disk.spent = 0
    twin.add(docs[150:])  # what the commit writes, when it can
    needed = disk.spent
    ix = searchlib.Index.create(tmp_path / "ix", workers=workers)
    ix.add(docs[:150])
    before, files = _state(ix), _files(ix)
    disk.left = int(needed * fraction)
    with pytest.raises(IndexWriteError, match=r"disk is full.*previous commit is intact"):
        ix.add(docs[150:])
    disk.left = None
    assert _state(ix) == before
    assert _files(ix) == files  # the failed commit's files are gone
    with searchlib.Index.open(ix.path) as reopened:
        assert _state(reopened) == before and reopened.check() == []
    ix.add(docs[150:])  # space again: the same commit goes through
    assert len(ix) == 300 and ix.check() == []


def test_a_full_disk_during_optimize_changes_nothing(tmp_path, disk):
    docs = _corpus(200)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    for start in range(0, 200, 40):
        ix.add(docs[start : start + 40])
    ix.delete(["d3", "d77"])
    before, files = _state(ix), _files(ix)
    disk.left = 20_000
    with pytest.raises(IndexWriteError, match="merge"):
        ix.optimize()
    disk.left = None
    assert _state(ix) == before and _files(ix) == files
    ix.optimize()
    assert _state(ix) == before and ix.stats()["segments"] == 1


@pytest.mark.parametrize("background", [True, False])
def test_a_merge_that_fails_after_a_commit_only_warns(tmp_path, disk, monkeypatch, background):
    docs = _corpus(30)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    ix._engine.background_merges = background
    ix._engine.merge_policy = MergePolicy(factor=3, floor=1)
    ix.add(docs[0])
    ix.add(docs[1])

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = "scheduler.merge_segments" if background else "merge._merge_group"
    monkeypatch.setattr(f"searchlib.engine.{target}", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ix.add(docs[2])  # the third segment calls for a merge, which fails
        ix.wait_for_merges()
    assert any("merging segments" in str(w.message) for w in caught)
    assert len(ix) == 3 and ix.stats()["segments"] == 3
    monkeypatch.undo()
    ix.add(docs[3])
    ix.wait_for_merges()
    assert len(ix) == 4 and ix.stats()["segments"] < 4


def test_a_full_disk_during_a_background_merge_keeps_every_commit(tmp_path, disk):
    docs = _corpus(90)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    ix._engine.merge_policy = MergePolicy(factor=3, floor=1)
    for start in (0, 30):
        ix.add(docs[start : start + 30])
    ix.wait_for_merges()
    before = _state(ix)
    twin = searchlib.Index.create(tmp_path / "twin", workers=1)
    twin._engine.merge_policy = MergePolicy(factor=50)  # never merges here
    twin.add(docs[:30])
    disk.spent = 0
    twin.add(docs[60:])
    disk.left = disk.spent + 4_000  # the third commit fits; its merge with the others not
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ix.add(docs[60:])
        ix.wait_for_merges()
    disk.left = None
    assert any("disk" in str(w.message) or "space" in str(w.message) for w in caught)
    assert len(ix) == 90 and len(before[1]) == 60 and ix.check() == []
    assert not list(ix.path.glob("merging.*"))  # the failed merge's files are gone
    committed = ix._engine.latest_commit().file_names()
    assert {p.name for p in ix.path.glob("seg_*")} == committed
