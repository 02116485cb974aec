"""Index directories from elsewhere: opening never runs code, and a damaged or crafted
file raises ``IndexCorruptError`` naming it (never a raw error, a crash or a silently
different answer)."""

from __future__ import annotations

import json
import os
import pickle
import random
import zlib
from pathlib import Path

import numpy as np
import pytest

import searchlib
from searchlib import IndexCorruptError, SearchlibError
from searchlib.engine.arrayfile import ArrayFileWriter, map_file, read_arrays
from searchlib.engine.checksum import dump_checked_json, load_checked_json
from searchlib.engine.packed import narrow
from searchlib.engine.schema import FORMAT_VERSION

from .test_equivalence import _corpus


class _Planted:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def _built(path: Path, *, deletions: bool = True) -> searchlib.Index:
    ix = searchlib.Index.create(path, workers=1)
    docs = _corpus(120)
    ix.add(docs[:60])
    ix.add(docs[60:])
    if deletions:
        ix.delete(["d3", "d70"])
    return ix


def _everything(path: Path) -> tuple:
    """Open the index and read all of it: every search path and every document."""
    with searchlib.Index.open(path) as ix:
        ids = ix.ids()
        docs = [ix.get(doc_id) for doc_id in ids]
        hits = [h.id for h in ix.search("gempa warga", limit=50)]
        prefix = [h.id for h in ix.search("bang*", limit=50)]
        phrase = [h.id for h in ix.search('"warga desa"', limit=50)]
        problems = ix.check()
    return ids, docs, hits, prefix, phrase, problems


def _kinds(path: Path) -> dict[str, Path]:
    """One file of each kind in an index directory."""
    files = sorted(p for p in path.iterdir() if p.is_file())
    kinds = {}
    for suffix in (".slp", ".sld", ".del"):
        kinds[suffix] = next(p for p in files if p.name.endswith(suffix))
    kinds["commit"] = next(p for p in files if p.name.startswith("commit."))
    kinds["marker"] = path / "searchlib.json"
    return kinds


def test_a_planted_pickle_never_runs(tmp_path):
    planted = tmp_path / "planted-ran"
    payload = pickle.dumps(_Planted(planted))
    source = tmp_path / "ix"
    _built(source).close()
    expected = _everything(source)
    # Whoosh's table of contents, as an older searchlib or Whoosh itself would read it:
    # a file searchlib never reads now.
    (source / "_MAIN_9.toc").write_bytes(payload)
    assert _everything(source) == expected
    for kind, target in _kinds(source).items():
        copy = tmp_path / f"copy-{kind.strip('.')}"
        searchlib.Index.open(source).backup(copy)
        (copy / target.name).write_bytes(payload)
        with pytest.raises(SearchlibError):
            _everything(copy)
        assert not planted.exists(), kind


@pytest.mark.parametrize("kind", [".slp", ".sld", ".del", "commit", "marker"])
def test_a_flipped_byte_anywhere_is_caught(tmp_path, kind):
    source = tmp_path / "ix"
    _built(source).close()
    rng = random.Random(kind)
    target = _kinds(source)[kind]
    size = target.stat().st_size
    offsets = sorted({0, size - 1, size - 10, *rng.sample(range(size), 12)})
    for offset in offsets:
        copy = tmp_path / f"flip-{offset}"
        searchlib.Index.open(source).backup(copy)
        damaged = copy / target.name
        data = bytearray(damaged.read_bytes())
        data[offset] ^= 0x41
        damaged.write_bytes(bytes(data))
        try:
            got = _everything(copy)
        except IndexCorruptError as exc:
            assert target.name in str(exc), str(exc)
        except SearchlibError as exc:
            # A flip in the marker may make it unreadable as a marker at all.
            assert kind == "marker", repr(exc)
        else:
            pytest.fail(f"a flipped byte at {offset} of {target.name} went unnoticed: {got[5]}")


@pytest.mark.parametrize("kind", [".slp", ".sld", ".del", "commit"])
def test_truncated_and_empty_files_are_caught(tmp_path, kind):
    source = tmp_path / "ix"
    _built(source).close()
    target = _kinds(source)[kind]
    for keep in (0, 5, target.stat().st_size // 2, target.stat().st_size - 1):
        copy = tmp_path / f"cut-{keep}"
        searchlib.Index.open(source).backup(copy)
        damaged = copy / target.name
        damaged.write_bytes(damaged.read_bytes()[:keep])
        with pytest.raises(IndexCorruptError, match=target.name):
            _everything(copy)


def _rewrite_postings(path: Path, change) -> None:
    """Rewrite a postings file with ``change`` applied to its arrays and a valid
    checksum, and make its commit agree: a crafted file, not a damaged one."""
    arrays = {name: np.array(a) for name, a in read_arrays(path, map_file(path)).items()}
    change(arrays)
    writer = ArrayFileWriter(path)
    for name, array in arrays.items():
        writer.add(name, array)
    writer.close()
    (commit,) = path.parent.glob("commit.*.json")
    body = load_checked_json(commit, commit.read_bytes())
    for segment in body["segments"]:
        if path.name in segment["files"]:
            segment["files"][path.name] = [writer.size, writer.crc]
    commit.write_bytes(dump_checked_json(body))


@pytest.mark.parametrize(
    "change",
    [
        lambda a: a.__setitem__("body.posts", a["body.posts"][::-1].astype(np.int64)),
        lambda a: a.__setitem__("body.first", a["body.first"] + 10_000),
        lambda a: a.__setitem__("title.lex", a["title.lex"] + 10**6),
        lambda a: a.__setitem__("#id.docs", a["#id.docs"] + 500),
        lambda a: a.__setitem__("#title_len", a["#title_len"][:3].copy()),
        lambda a: a.pop("body.tfs"),
        lambda a: a.__setitem__("body.gaps.n", np.asarray([a["body.gaps.n"][0], 3])),
        lambda a: a.__setitem__("body.tfs.n", a["body.tfs.n"] + [1, 0]),
        lambda a: a.__setitem__("body.gaps.xc", a["body.gaps.xc"] + 1),
        lambda a: a.__setitem__("body.positions", a["body.positions"][:-1].copy()),
        lambda a: a.__setitem__("#signature.minhash", a["#signature.minhash"][:-1].copy()),
        lambda a: a.pop("#signature.minhash"),
        lambda a: a.__setitem__("#body_len", a["#body_len"].astype(np.int16) - 200),
        lambda a: a.__setitem__("#id.stroffsets", a["#id.stroffsets"].astype(np.float64)),
    ],
    ids=[
        "posts",
        "first",
        "lex",
        "ids",
        "column",
        "missing",
        "width",
        "count",
        "exc",
        "data",
        "signature",
        "no-signature",
        "signed-lengths",
        "float-offsets",
    ],
)
def test_a_crafted_postings_file_with_a_valid_checksum_is_refused(tmp_path, change):
    path = tmp_path / "ix"
    _built(path, deletions=False).close()
    target = next(path.glob("*.slp"))
    _rewrite_postings(target, change)
    with pytest.raises(IndexCorruptError, match=target.name):
        _everything(path)


def _interior(name: str, shift: int):
    """Shift the inner values of an offsets array, keeping its ends (which opening checks)."""

    def change(arrays):
        values = arrays[name].astype(np.int64)
        values[1:-1] += shift
        arrays[name] = values

    return change


def _everywhere(name: str, shift: int):
    def change(arrays):
        arrays[name] = arrays[name].astype(np.int64) + shift

    return change


@pytest.mark.parametrize(
    ("change", "query"),
    [
        (_interior("body.posts", 10**6), "gempa warga"),
        (_everywhere("body.first", 10**6), "gempa warga"),
        (_interior("body.pstart", 10**7), '"gempa warga"'),
        (_everywhere("body_exact.lex", 10**6), "bang*"),
    ],
    ids=["posts", "first", "pstart", "lex"],
)
def test_damage_inside_a_term_table_is_found_by_the_read_that_meets_it(tmp_path, change, query):
    # Opening checks a field's sizes and ends, not each of its terms (so it reads no
    # term table): the read that meets crafted offsets refuses them, naming the file,
    # and ``check`` finds them without a search.
    path = tmp_path / "ix"
    _built(path, deletions=False).close()
    with searchlib.Index.open(path) as ix:
        assert ix.search(query, limit=50).total  # the query reads the crafted part
    for target in path.glob("*.slp"):
        _rewrite_postings(target, change)
    with searchlib.Index.open(path) as ix:
        assert len(ix) == 120  # opened: the damage is inside the table
        with pytest.raises(IndexCorruptError, match=r"seg_\w+\.slp"):
            ix.search(query, limit=50)
        problems = ix.check()
    assert len(problems) == 1 and ".slp" in problems[0] and "damaged" in problems[0]


def test_a_crafted_commit_cannot_name_files_outside_the_index(tmp_path):
    path = tmp_path / "ix"
    _built(path).close()
    (commit,) = path.glob("commit.*.json")
    body = load_checked_json(commit, commit.read_bytes())
    segment = body["segments"][0]
    segment["files"]["../../etc/passwd"] = [10, 0]
    commit.write_bytes(dump_checked_json(body))
    with pytest.raises(IndexCorruptError, match="commit"):
        searchlib.Index.open(path)


def test_the_marker_and_commit_are_plain_checked_json(tmp_path):
    path = tmp_path / "ix"
    _built(path).close()
    marker = json.loads((path / "searchlib.json").read_text("utf-8"))
    assert marker["body"]["format"] == FORMAT_VERSION == 10
    assert marker["body"]["analyzer"]["steps"][0]["step"] == "normalize"
    (commit,) = path.glob("commit.*.json")
    wrapper = json.loads(commit.read_text("utf-8"))
    assert {s["id"] for s in wrapper["body"]["segments"]} == {
        p.name.split(".")[0] for p in path.glob("seg_*.slp")
    }
    canonical = json.dumps(
        wrapper["body"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert wrapper["crc32"] == zlib.crc32(canonical)


def test_check_finds_damage_that_opening_skips_in_large_files(tmp_path, monkeypatch):
    monkeypatch.setattr("searchlib.engine.segment.VERIFY_AT_OPEN", 0)  # as for large files
    path = tmp_path / "ix"
    _built(path, deletions=False).close()
    target = next(path.glob("*.slp"))
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x01  # inside an array: the footer and size still fit
    target.write_bytes(bytes(data))
    with searchlib.Index.open(path) as ix:
        (problem,) = ix.check()
        assert target.name in problem and "checksum" in problem


def test_a_damaged_stem_cache_is_only_a_cache(tmp_path):
    path = tmp_path / "ix"
    _built(path).close()
    source_copy = tmp_path / "copy"
    searchlib.Index.open(path).backup(source_copy)
    stems = path / "stems.slt"
    assert stems.exists()
    data = bytearray(stems.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stems.write_bytes(bytes(data))
    with searchlib.Index.open(path) as ix:
        assert ix.analyzer.stem_cache.backing is None  # ignored, never half-trusted
    assert _everything(path) == _everything(source_copy)  # the same answers
    with searchlib.Index.open(path) as ix:  # closing wrote a good one again
        assert ix.analyzer.stem_cache.backing is not None


def test_no_index_file_is_a_pickle(tmp_path):
    path = tmp_path / "ix"
    _built(path).close()
    for file in path.iterdir():
        head = file.read_bytes()[:2]
        assert not head.startswith(b"\x80"), file.name  # pickle protocol 2+
        assert os.path.getsize(file) > 0 or file.name == "WRITELOCK"


@pytest.mark.parametrize("kind", [".slp", ".sld", ".del", "commit"])
def test_a_fifo_in_place_of_an_index_file_never_blocks(tmp_path, kind):
    path = tmp_path / "ix"
    _built(path).close()
    target = _kinds(path)[kind]
    target.unlink()
    os.mkfifo(target)  # opening it for reading would wait for a writer forever
    with pytest.raises(IndexCorruptError, match="not a regular file"):
        _everything(path)


def test_counts_are_stored_in_the_narrowest_type(tmp_path):
    # Lengths and id offsets take a byte or two a document, not eight: the reader
    # takes any unsigned width (dates stay whole: they need 63 bits).
    path = tmp_path / "ix"
    _built(path, deletions=False).close()
    for target in path.glob("*.slp"):
        arrays = read_arrays(target, map_file(target))
        for name in ("#title_len", "#body_len", "#id.stroffsets"):
            assert arrays[name].dtype == narrow(np.array(arrays[name])).dtype != np.uint64
        assert arrays["#title_len"].dtype == np.uint8
        assert arrays["#published_ts"].dtype == np.uint64


@pytest.mark.parametrize("kind", ["marker", "commit", ".del"])
def test_a_huge_metadata_file_is_refused_unread(tmp_path, kind):
    path = tmp_path / "ix"
    _built(path).close()
    target = _kinds(path)[kind]
    os.truncate(target, 1 << 40)  # a sparse terabyte: reading it would take the memory
    with pytest.raises(IndexCorruptError, match=f"{target.name}.* holds 1,099,511,627,776 bytes"):
        _everything(path)


def test_a_deeply_nested_marker_or_commit_is_damage(tmp_path):
    path = tmp_path / "ix"
    _built(path).close()
    (commit,) = path.glob("commit.*.json")
    commit.write_text("[" * 100_000 + "]" * 100_000, "utf-8")
    with pytest.raises(IndexCorruptError, match=commit.name):
        searchlib.Index.open(path)
    (path / "searchlib.json").write_text("[" * 100_000 + "]" * 100_000, "utf-8")
    with pytest.raises(SearchlibError):
        searchlib.Index.open(path)


def test_a_reader_adopts_the_stems_another_writer_saved(tmp_path):
    """A reader opened before a writer elsewhere (another process, a cluster replica's
    writing child) saved its stems takes them up when its snapshot moves on: its
    snippets read the saved stems and stem nothing again."""
    path = tmp_path / "ix"
    searchlib.Index.create(path).close()
    with searchlib.Index.open(path) as reader:
        assert reader.analyzer.stem_cache.backing is None  # nothing saved yet
        with searchlib.Index.open(path) as writer:  # a writer of its own
            writer.add(
                {"id": "a", "title": "Pembangunan jembatan", "body": "Warga membangun "
                 "jembatan penyeberangan dan memperbaiki jalan menuju permukiman."}
            )  # fmt: skip
        results = reader.search("pembangunan jembatan")  # a new snapshot: its stems
        assert results.ids() == ["a"] and results[0].snippet is not None
        cache = reader.analyzer.stem_cache
        assert cache.backing is not None and cache.backing.get("membangun") == "bangun"
        computed = cache.export()  # stemmed here: the synonyms' words, none of the text's
        text_words = {"membangun", "jembatan", "penyeberangan", "memperbaiki", "permukiman"}
        assert computed.keys().isdisjoint(text_words | {"pembangunan", "jalan", "menuju"})


def test_opening_warms_what_the_first_search_needs(tmp_path):
    """``Index.open`` builds the snapshot and synonym table a first search would (a
    server's warmer), unless ``warm=False``."""
    path = tmp_path / "ix"
    _built(path).close()
    with searchlib.Index.open(path, warm=False) as cold:
        assert cold._engine._snapshot is None
        assert cold._synonyms._cached is None
    with searchlib.Index.open(path) as warm:
        snapshot = warm._engine._snapshot
        assert snapshot is not None and warm._synonyms._cached is not None
        assert warm.search("gempa warga").total > 0
        assert warm._engine._snapshot is snapshot  # the first search read the warmed one


def test_an_index_too_damaged_to_warm_still_opens_and_its_searches_say_why(tmp_path):
    path = tmp_path / "ix"
    _built(path, deletions=False).close()
    target = next(path.glob("*.sld"))
    target.write_bytes(target.read_bytes()[:-20])  # its footer gone
    ix = searchlib.Index.open(path)  # opening names nothing yet
    with pytest.raises(IndexCorruptError, match=target.name):
        ix.search("gempa warga")
    ix.close()
