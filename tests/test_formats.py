"""searchlib's own file formats round-trip what they are given (Hypothesis): the doc
store, the arrays file, deletions, checked JSON and commit points."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib import IndexCorruptError
from searchlib.engine import docstore
from searchlib.engine.arrayfile import ArrayFileWriter, map_file, read_arrays
from searchlib.engine.checksum import dump_checked_json, load_checked_json, verify
from searchlib.engine.commit import (
    CommitPoint,
    SegmentInfo,
    read_commit,
    read_deletions,
    write_commit,
    write_deletions,
)
from searchlib.engine.docstore import DocStoreReader, DocStoreWriter

from .conftest import ARTICLES

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_documents = st.lists(
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=20), "body": st.text(max_size=3000)}
    ).flatmap(lambda d: st.just(d) | st.builds(lambda extra: {**d, "extra": extra}, _json)),
    max_size=60,
)


@SETTINGS
@given(
    docs=_documents,
    block=st.sampled_from([64, 4096, 1 << 16]),
    train=st.sampled_from([None, 5, 30]),
)
def test_the_doc_store_gives_back_every_document(tmp_path, monkeypatch, docs, block, train):
    monkeypatch.setattr(docstore, "BLOCK_BYTES", block)  # many blocks, or one
    monkeypatch.setattr(docstore, "TRAINED_BLOCK_BYTES", block)
    if train is not None:  # a dictionary trained on the first few (or all, or too few)
        monkeypatch.setattr(docstore, "TRAIN_DOCS", train)
        monkeypatch.setattr(docstore, "MIN_TRAIN_DOCS", 5)
    path = tmp_path / "s.sld"
    with open(path, "wb") as handle:
        writer = DocStoreWriter(handle, dictionary=train is not None)
        for doc in docs:
            writer.add(doc)
        writer.finish()
    assert verify(path) == writer.crc
    reader = DocStoreReader(path)
    assert len(reader) == len(docs)
    order = list(range(len(docs)))[::-1]  # out of order: blocks decoded again
    assert [reader.get(n) for n in order] == [docs[n] for n in order]
    with pytest.raises(IndexError):
        reader.get(len(docs))


def _resampled(count: int) -> list[dict]:
    """Articles of sentences drawn from a shared pool (as make_corpus.py resamples
    real ones): whole sentences recur across blocks, as news phrases do."""
    rng = random.Random(4)
    words = " ".join(a["body"] for a in ARTICLES).split()
    pool = [" ".join(rng.choices(words, k=rng.randint(8, 16))) for _ in range(400)]
    return [
        {
            "id": f"r{n}",
            "title": " ".join(rng.choices(words, k=6)),
            "body": ". ".join(rng.choices(pool, k=rng.randint(3, 12))),
        }
        for n in range(count)
    ]


def _store_size(path: Path, docs: list[dict], *, dictionary: bool) -> int:
    with open(path, "wb") as handle:
        writer = DocStoreWriter(handle, dictionary=dictionary)
        for doc in docs:
            writer.add(doc)
        writer.finish()
    return path.stat().st_size


def test_a_trained_dictionary_makes_the_store_smaller(tmp_path, monkeypatch):
    # Trained on the first articles, it compresses the rest better: what the articles
    # share is not learnt again in every block (and every document still comes back).
    monkeypatch.setattr(docstore, "TRAIN_DOCS", 600)
    articles = _resampled(3000)
    plain = _store_size(tmp_path / "plain.sld", articles, dictionary=False)
    trained = _store_size(tmp_path / "trained.sld", articles, dictionary=True)
    assert trained < plain * 0.95, (trained, plain)
    reader = DocStoreReader(tmp_path / "trained.sld")
    assert reader._dictionary is not None
    assert [reader.get(n) for n in range(0, len(articles), 97)] == articles[::97]


def test_the_dictionary_grows_with_the_segment_it_serves(tmp_path, monkeypatch):
    # A merge knows how many documents its segment holds: a small one gets a small
    # dictionary (it would cost each document more than it saves), a large one up to
    # DICTIONARY_BYTES. The largest gives the smallest store of the same articles.
    monkeypatch.setattr(docstore, "TRAIN_DOCS", 2_500)
    articles = _resampled(3_000)
    dictionaries, sizes = {}, {}
    for expected in (1_500, 3_500, None):
        path = tmp_path / f"{expected}.sld"
        with open(path, "wb") as handle:
            writer = DocStoreWriter(handle, dictionary=True, expected_docs=expected)
            for doc in articles:
                writer.add(doc)
            writer.finish()
        reader = DocStoreReader(path)
        assert reader._dictionary is not None
        dictionaries[expected] = len(reader._dictionary.as_bytes())
        sizes[expected] = path.stat().st_size - dictionaries[expected]
        assert [reader.get(n) for n in range(0, len(articles), 101)] == articles[::101]
    assert dictionaries[1_500] <= 1_500 * docstore.DICTIONARY_PER_DOC
    assert dictionaries[1_500] < dictionaries[3_500] < dictionaries[None]
    assert dictionaries[None] > 96 << 10  # the larger dictionary (was at most 96 KB)
    assert sizes[None] < sizes[3_500] < sizes[1_500], sizes


def test_a_trained_store_keeps_smaller_blocks(tmp_path, monkeypatch):
    # With a dictionary each block holds about TRAINED_BLOCK_BYTES of text, so a hit
    # decompresses that much, not the BLOCK_BYTES a store without one keeps.
    monkeypatch.setattr(docstore, "TRAIN_DOCS", 600)
    articles = _resampled(3000)
    text = sum(len(json.dumps(a, ensure_ascii=False, separators=(",", ":"))) for a in articles)
    counts = {}
    for dictionary in (False, True):
        path = tmp_path / f"{dictionary}.sld"
        _store_size(path, articles, dictionary=dictionary)
        reader = DocStoreReader(path)
        assert (reader._dictionary is not None) is dictionary
        counts[dictionary] = len(reader._firsts)
        assert [reader.get(n) for n in range(0, len(articles), 89)] == articles[::89]
    assert counts[False] <= text // docstore.BLOCK_BYTES + 1
    assert counts[True] <= text // docstore.TRAINED_BLOCK_BYTES + 1
    assert counts[True] > 3 * counts[False]


def test_threads_read_one_store_at_once(tmp_path, monkeypatch):
    # Each thread decompresses with its own (kept) decompressor: zstd's are not safe
    # to share, and every thread gets back exactly its documents.
    monkeypatch.setattr(docstore, "TRAIN_DOCS", 300)
    monkeypatch.setattr(docstore, "TRAINED_BLOCK_BYTES", 4096)
    monkeypatch.setattr(docstore, "CACHED_BLOCKS", 1)  # every read decompresses
    articles = _resampled(900)
    path = tmp_path / "trained.sld"
    _store_size(path, articles, dictionary=True)
    reader = DocStoreReader(path)

    def read(seed: int) -> bool:
        order = random.Random(seed).sample(range(len(articles)), 300)
        return all(reader.get(n) == articles[n] for n in order)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(read, range(8)))


def test_a_dictionary_that_does_not_help_is_not_kept():
    # Learnt from other documents (random codes), it makes these no smaller.
    rng = random.Random(8)
    codes = [rng.randbytes(600).hex().encode() for _ in range(300)]
    news = [json.dumps(a).encode() for a in _resampled(1200)]
    useless = zstandard.train_dictionary(16 << 10, codes)
    useful = zstandard.train_dictionary(16 << 10, news[:600])
    assert not docstore._helps(useless, news[600:])
    assert docstore._helps(useful, news[600:])


def test_a_damaged_dictionary_is_a_damaged_file(tmp_path):
    path = tmp_path / "trained.sld"
    _store_size(path, _resampled(300), dictionary=True)
    data = bytearray(path.read_bytes())
    data[4:8] = (len(data) * 2).to_bytes(4, "little")  # a dictionary past the file's end
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"trained\.sld"):
        DocStoreReader(path)


def test_a_damaged_small_block_is_a_damaged_file(tmp_path, monkeypatch):
    # A byte flipped inside one 16 KB block of a trained store: its documents raise
    # IndexCorruptError naming the file (zstd's frame checksum), never a wrong text,
    # and the other blocks still read.
    monkeypatch.setattr(docstore, "TRAIN_DOCS", 600)
    articles = _resampled(1500)
    path = tmp_path / "trained.sld"
    _store_size(path, articles, dictionary=True)
    reader = DocStoreReader(path)
    assert reader._dictionary is not None
    offsets, firsts = reader._offsets.copy(), reader._firsts.copy()
    middle = len(firsts) // 2
    data = bytearray(path.read_bytes())
    data[(int(offsets[middle]) + int(offsets[middle + 1])) // 2] ^= 0x5A
    path.write_bytes(bytes(data))
    damaged = DocStoreReader(path)
    with pytest.raises(IndexCorruptError, match=r"trained\.sld"):
        damaged.get(int(firsts[middle]))
    assert damaged.get(0) == articles[0]
    assert damaged.get(len(articles) - 1) == articles[-1]


@SETTINGS
@given(
    arrays=st.dictionaries(
        st.text("abcdefgh.#", min_size=1, max_size=10),
        st.lists(st.integers(0, 2**31), max_size=200).map(lambda v: np.array(v, np.int64)),
        max_size=6,
    )
)
def test_the_arrays_file_gives_back_every_array(tmp_path, arrays):
    path = tmp_path / "a.slp"
    writer = ArrayFileWriter(path)
    for name, values in arrays.items():
        writer.add(name, values)
    writer.close()
    assert verify(path) == writer.crc and path.stat().st_size == writer.size
    read = read_arrays(path, map_file(path))
    assert set(read) == set(arrays)
    for name, values in arrays.items():
        np.testing.assert_array_equal(read[name], values)


@SETTINGS
@given(body=_json)
def test_checked_json_round_trips_and_refuses_a_changed_body(body):
    data = dump_checked_json(body)
    assert load_checked_json(Path("x.json"), data) == body
    changed = data.replace(b'"body"', b'"bodY"')
    with pytest.raises(IndexCorruptError):
        load_checked_json(Path("x.json"), changed)


@SETTINGS
@given(deleted=st.lists(st.booleans(), min_size=1, max_size=300))
def test_deletions_and_commits_round_trip(tmp_path, deleted):
    mask = np.array(deleted, dtype=bool)
    segment = SegmentInfo("seg_ab", len(mask), {"seg_ab.slp": (10, 1), "seg_ab.sld": (20, 2)})
    name, count, checked = write_deletions(tmp_path, segment.id, 7, mask)
    segment = segment.with_deletions(name, count, checked)
    np.testing.assert_array_equal(read_deletions(tmp_path, segment), mask)
    write_commit(tmp_path, CommitPoint(7, (segment,)))
    commit = read_commit(tmp_path, 7)
    assert commit.segments == (segment,) and commit.doc_count == len(mask) - int(mask.sum())
