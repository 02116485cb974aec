"""searchlib's own file formats round-trip what they are given (Hypothesis): the doc
store, the arrays file, deletions, checked JSON and commit points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
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
@given(docs=_documents, block=st.sampled_from([64, 4096, 1 << 16]))
def test_the_doc_store_gives_back_every_document(tmp_path, monkeypatch, docs, block):
    monkeypatch.setattr(docstore, "BLOCK_BYTES", block)  # many blocks, or one
    path = tmp_path / "s.sld"
    with open(path, "wb") as handle:
        writer = DocStoreWriter(handle)
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
