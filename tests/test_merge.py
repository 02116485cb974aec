"""The merge policy and the array merge of postings, on their own."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchlib.engine import postings_merge
from searchlib.engine.arrayfile import ArrayFileWriter
from searchlib.engine.arrays import (
    LEX_PREFIX,
    encode_docs,
    field_parts,
    found_in,
    lex_order,
    member,
    member_ascending,
    stream_parts,
)
from searchlib.engine.arrays_read import FieldArrays, SegmentArrays
from searchlib.engine.merge import MergePolicy, select_merges
from searchlib.engine.packed import BLOCK
from searchlib.engine.postings_merge import MergeSource, _term_ids, merge_postings

# Short alphabets (NUL and 0xff included) make long shared prefixes and ties.
term_sets = st.one_of(
    st.sets(st.binary(max_size=LEX_PREFIX + 8), max_size=80),
    st.sets(
        st.lists(st.sampled_from([b"a", b"\0", b"\xff"]), max_size=2 * LEX_PREFIX).map(b"".join),
        max_size=80,
    ),
)


@given(term_sets)
def test_terms_are_ordered_as_bytes_compare(terms):
    terms = list(terms)
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(term) for term in terms], out=offsets[1:])
    blob = np.frombuffer(b"".join(terms), dtype=np.uint8)
    order = lex_order(blob, offsets)
    assert order.dtype == np.int32
    assert order.tolist() == sorted(range(len(terms)), key=terms.__getitem__)


@given(st.sets(st.integers(0, 3000)), st.sets(st.integers(0, 3000)))
def test_membership_of_a_set_either_way_round(ids, postings):
    # Candidates searched among postings, or the postings among the candidates
    # (fewer), give the same answer.
    ids = np.asarray(sorted(ids), dtype=np.int64)
    postings = np.asarray(sorted(postings), dtype=np.int64)
    expected = np.isin(ids, postings)
    assert member_ascending(ids, postings).tolist() == expected.tolist()
    assert member(ids, postings).tolist() == expected.tolist()


@given(st.sets(st.integers(0, 3000)), st.sets(st.integers(0, 3000), max_size=40))
def test_places_of_a_set_either_way_round(ids, postings):
    # Each candidate found among a word's postings, with its place there: the same
    # whether the candidates are searched among the postings or (fewer postings) the
    # postings among the candidates.
    ids = np.asarray(sorted(ids), dtype=np.int64)
    postings = np.asarray(sorted(postings), dtype=np.int64)
    place = {doc: n for n, doc in enumerate(postings.tolist())}
    expected = [(row, place[doc]) for row, doc in enumerate(ids.tolist()) if doc in place]
    for longer in (ids, np.concatenate((ids, np.arange(4000, 4000 + 4 * len(postings) + 1)))):
        rows, places = found_in(longer, postings)
        got = [(r, p) for r, p in zip(rows.tolist(), places.tolist(), strict=True) if r < len(ids)]
        assert got == expected
        assert (longer[rows] == postings[places]).all()


def test_a_full_level_of_adjacent_segments_merges():
    policy = MergePolicy(factor=4, floor=10)
    assert select_merges([(5, 5)] * 3, policy) == []
    assert select_merges([(5, 5)] * 4, policy) == [[0, 1, 2, 3]]
    # A large segment first, then a full level of small ones.
    assert select_merges([(1000, 1000)] + [(5, 5)] * 4, policy) == [[1, 2, 3, 4]]
    # Sizes of one level merge once there are `factor` of them.
    assert select_merges([(40, 40)] * 4 + [(5, 5)] * 2, policy) == [[0, 1, 2, 3]]


def test_no_merge_makes_a_segment_larger_than_the_cap():
    policy = MergePolicy(factor=4, floor=10, max_merged_docs=1000)
    assert select_merges([(300, 300)] * 4, policy) == []
    assert select_merges([(300, 300)] * 4 + [(5, 5)] * 4, policy) == [[4, 5, 6, 7]]


def test_segments_with_many_deletions_are_rewritten():
    policy = MergePolicy(factor=10, floor=10)
    assert select_merges([(100, 100), (40, 100), (90, 100)], policy) == [[1]]


def test_merge_factor_is_validated():
    with pytest.raises(ValueError, match="at least 2"):
        MergePolicy(factor=1)


def test_every_document_is_merged_a_logarithmic_number_of_times():
    policy = MergePolicy(factor=10, floor=100)
    sizes: list[int] = []
    copied = 0
    for _commit in range(1000):
        sizes.append(100)
        while groups := select_merges([(n, n) for n in sizes], policy):
            for group in reversed(groups):
                merged = sum(sizes[n] for n in group)
                copied += merged
                sizes[group[0] : group[-1] + 1] = [merged]
    assert sum(sizes) == 100_000
    assert len(sizes) < 30
    assert copied <= 3 * 100_000  # log10(1000) levels


def test_term_numbers_follow_bytes_even_when_hashes_collide():
    terms = [b"abc", b"abd", b"abc", b"xyz", b"abd"]
    hashes = np.array([7, 7, 7, 9, 7], dtype=np.uint64)  # forced collisions
    blob = np.frombuffer(b"".join(terms), dtype=np.uint8)
    lengths = np.array([len(t) for t in terms], dtype=np.int64)
    ids = _term_ids(hashes, blob, lengths)
    assert ids[0] == ids[2] and ids[1] == ids[4]
    assert len({ids[0], ids[1], ids[3]}) == 3
    assert ids[3] == max(ids)  # hash order kept


segment = st.dictionaries(
    st.sampled_from(["a", "b", "bc", "kata", "rumah", "jalan", "x"]),
    st.lists(st.integers(0, 30), min_size=1, max_size=4).map(sorted),
    max_size=5,
)


def _field(docs: list[dict[str, list[int]]]) -> FieldArrays | None:
    postings: dict[bytes, list[tuple[int, list[int]]]] = {}
    for number, doc in enumerate(docs):
        for term, positions in doc.items():
            postings.setdefault(term.encode(), []).append((number, positions))
    if not postings:
        return None
    terms = list(postings)
    starts = np.cumsum([0] + [len(postings[t]) for t in terms])
    flat = [p for t in terms for p in postings[t]]
    parts = field_parts(
        terms,
        starts,
        np.array([d for d, _ in flat]),
        np.array([len(p) for _, p in flat]),
        np.array([x for _, p in flat for x in p], dtype=np.int64),
    )
    return FieldArrays(parts)


@given(st.lists(st.lists(segment, max_size=6), min_size=1, max_size=4), st.data())
def test_merged_postings_are_the_live_postings_renumbered(tmp_path_factory, segments, data):
    path = tmp_path_factory.mktemp("merge") / "merged.slp"
    sources, expected, base = [], {}, 0
    # Spread documents apart so that gaps also escape the packed streams' width.
    spread = data.draw(st.sampled_from([1, 70_001]))
    for docs in segments:
        live = [data.draw(st.booleans()) for _ in docs]
        docmap = np.where(live, np.cumsum(live) - 1 + base, -1) if docs else np.zeros(0, int)
        docmap = np.where(docmap >= 0, docmap * spread, -1)
        for number, doc in enumerate(docs):
            if live[number]:
                for term, positions in doc.items():
                    expected.setdefault(term.encode(), []).append((int(docmap[number]), positions))
        base += sum(live)
        sources.append(MergeSource(_field(docs), docmap.astype(np.int64)))
    writer = ArrayFileWriter(path)
    # Small chunks: hash ranges and packed streams encoded a block at a time.
    small = data.draw(st.booleans())
    with (
        mock.patch.object(postings_merge, "ENCODE_CHUNK", BLOCK if small else 10**6),
        mock.patch.object(postings_merge, "CHUNK_POSTINGS", 3 if small else 10**6),
    ):
        merge_postings(writer, "body", sources)
    writer.close()
    merged = SegmentArrays.load(path)
    assert merged is not None
    field = merged.field("body")
    got = {}
    for position in range(len(field)):
        term = field.term(position)
        docs, tfs = field.postings(position)
        where = _positions(field, position, docs)
        got[term] = [(d, where[d].tolist()) for d in docs.tolist()]
        assert tfs.tolist() == [len(where[d]) for d in docs.tolist()]
    assert got == expected
    assert np.all(np.diff(field.hash.astype(np.float64)) >= 0)
    assert [field.term(int(i)) for i in field.lex] == sorted(got)


def _merged(path, sources):
    writer = ArrayFileWriter(path)
    merge_postings(writer, "body", sources)
    writer.close()
    field = SegmentArrays.load(path).field("body")
    out = {}
    for index in range(len(field)):
        docs, tfs = field.postings(index)
        where = _positions(field, index, docs)
        assert tfs.tolist() == [len(where[d]) for d in docs.tolist()]
        out[field.term(index)] = [(d, where[d].tolist()) for d in docs.tolist()]
    return out


def test_a_merge_encoded_a_block_at_a_time_equals_one_encoded_whole(tmp_path):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    segments = []
    for _ in range(3):
        docs = []
        for _doc in range(300):
            chosen = rng.choice(words, size=int(rng.integers(1, 12)), replace=False)
            docs.append({w: sorted(rng.choice(400, int(rng.integers(1, 5)), replace=False).tolist())
                         for w in chosen})  # fmt: skip
        segments.append(docs)
    sources, base = [], 0
    for docs in segments:
        live = rng.random(len(docs)) > 0.2
        docmap = np.where(live, np.cumsum(live) - 1 + base, -1).astype(np.int64)
        base += int(live.sum())
        sources.append(MergeSource(_field(docs), docmap))
    whole = _merged(tmp_path / "whole.slp", sources)
    with (
        mock.patch.object(postings_merge, "ENCODE_CHUNK", BLOCK),
        mock.patch.object(postings_merge, "CHUNK_POSTINGS", 50),
    ):
        chunked = _merged(tmp_path / "chunked.slp", sources)
    assert chunked == whole
    assert sum(len(v) for v in whole.values()) > 5 * BLOCK  # many chunks of each stream
    # And both are the live postings of the sources, renumbered.
    expected = {}
    for docs, source in zip(segments, sources, strict=True):
        for number, doc in enumerate(docs):
            if source.docmap[number] >= 0:
                for term, positions in doc.items():
                    expected.setdefault(term.encode(), []).append(
                        (int(source.docmap[number]), positions)
                    )
    assert whole == expected


@given(
    st.lists(
        st.lists(st.integers(1, 200_000), min_size=1, max_size=40).map(
            lambda gaps: list(itertools.accumulate(gaps))
        ),
        min_size=1,
        max_size=8,
    )
)
def test_document_numbers_round_trip_through_delta_coding(terms):
    # Gaps up to 200,000 escape the packed width; every term and every range decodes.
    docs = np.array([d for term in terms for d in term], dtype=np.int64)
    posts = np.concatenate(([0], np.cumsum([len(term) for term in terms])))
    first, gaps = encode_docs(docs, posts)
    field = FieldArrays(
        {
            "hash": np.zeros(len(terms), dtype=np.uint64),
            "blob": np.zeros(0, dtype=np.uint8),
            "terms": np.zeros(len(terms) + 1, dtype=np.int64),
            "lex": np.arange(len(terms), dtype=np.int32),
            "posts": posts,
            "first": first,
            **stream_parts("gaps", gaps),
            **stream_parts("tfs", np.zeros(len(docs), dtype=np.int64)),
        }
    )
    for index, term in enumerate(terms):
        assert field.postings(index)[0].tolist() == term
    for first in range(len(terms)):
        for last in range(first + 1, len(terms) + 1):
            expected = [d for term in terms[first:last] for d in term]
            assert field.docs_between(first, last).tolist() == expected


def _positions(field, index, docs):
    """Positions of term ``index`` per document, from ``positions_flat``."""
    if not field.positional:
        return {}
    found, positions = field.positions_flat(index, docs)
    return {doc: positions[found == doc] for doc in docs.tolist()}
