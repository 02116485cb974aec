"""The patched fixed-width streams of postings (engine.packed): round trips at every
width, ranges and gathers, chunked encoding equal to whole, damage refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchlib.engine import packed, postings_merge
from searchlib.engine.arrayfile import ArrayFileWriter, map_file, read_arrays

values_lists = st.lists(
    st.one_of(
        st.integers(0, 3), st.integers(0, 300), st.integers(0, 70_000), st.integers(0, 2**31)
    ),
    max_size=700,
)


@settings(max_examples=150, deadline=None)
@given(values_lists, st.data())
def test_a_stream_returns_its_values_by_range_and_by_index(values, data):
    array = np.asarray(values, dtype=np.int64)
    stream = packed.PackedInts(packed.encode(array))
    stream.validate(full=True)
    assert stream.range(0, len(array)).tolist() == values
    low = data.draw(st.integers(0, len(array)))
    high = data.draw(st.integers(low, len(array)))
    assert stream.range(low, high).tolist() == values[low:high]
    if values:
        wanted = data.draw(st.lists(st.integers(0, len(array) - 1), max_size=40))
        assert stream.take(np.asarray(wanted, dtype=np.int64)).tolist() == [
            values[i] for i in wanted
        ]


@settings(max_examples=60, deadline=None)
@given(values_lists, st.sampled_from([1, 2, 4, 8, 16]), st.integers(1, 4))
def test_chunked_encoding_equals_encoding_whole_at_any_width(values, width, blocks):
    array = np.asarray(values, dtype=np.int64)
    whole = packed.StreamEncoder(width).feed(array)
    encoder = packed.StreamEncoder(width)
    step = blocks * packed.BLOCK
    parts = [encoder.feed(array[at : at + step]) for at in range(0, max(len(array), 1), step)]
    for index in range(3):
        assert np.concatenate([p[index] for p in parts]).tolist() == whole[index].tolist()
    parts_of = {
        "": whole[0],
        ".x": packed.narrow(whole[1]),
        ".xc": np.concatenate(([0], whole[2])),
        ".n": np.asarray([len(array), width]),
    }
    assert packed.PackedInts(parts_of).range(0, len(array)).tolist() == values


def test_the_width_is_the_smallest_stream():
    ones = np.zeros(10_000, dtype=np.int64)
    ones[::50] = 3  # frequencies: mostly 1 (stored as 0), a few larger
    assert packed.choose_width(packed.bit_length_counts(ones)) == 1
    gaps = np.random.default_rng(1).geometric(0.02, 10_000)  # mostly below 255
    assert packed.choose_width(packed.bit_length_counts(gaps)) == 8
    wide = np.random.default_rng(2).integers(0, 60_000, 10_000)
    assert packed.choose_width(packed.bit_length_counts(wide)) == 16
    size = len(packed.encode(ones)[""])
    assert size == 10_000 // 8  # a bit a value, the escapes kept apart


def test_an_escape_value_itself_round_trips():
    # A value equal to the escape is stored as an exception, not taken as one.
    values = np.asarray([0, 1, 255, 254, 256, 255] * 50, dtype=np.int64)
    stream = packed.PackedInts(packed.encode(values))
    assert stream.range(0, len(values)).tolist() == values.tolist()
    assert stream.take(np.asarray([2, 5, 299])).tolist() == [255, 255, 255]


def test_damaged_streams_raise_value_errors_never_wrong_values_or_index_errors():
    index = np.arange(1000, dtype=np.int64)
    values = np.where(index % 10 == 0, 100_000, index % 200)  # a byte each, some escape
    parts = packed.encode(values)
    stream = packed.PackedInts(parts)
    assert stream.width == 8 and len(stream.exceptions) == 100
    with pytest.raises(ValueError, match="outside"):
        stream.range(10, 1001)
    with pytest.raises(ValueError, match="outside"):
        stream.take(np.asarray([1000]))
    short = dict(parts, **{".x.x": parts[".x.x"][:-5]})  # the exceptions' exceptions
    with pytest.raises(ValueError, match="exceptions"):
        packed.PackedInts(short).validate()
    # Unchecked, a read that meets the missing exceptions still refuses them.
    with pytest.raises(ValueError, match="exceptions"):
        packed.PackedInts(short).range(900, 1000)
    with pytest.raises(ValueError, match="outside"):
        packed.PackedInts(short).take(np.asarray([990]))
    with pytest.raises(ValueError, match="width"):
        packed.PackedInts(dict(parts, **{".n": np.asarray([1000, 3])}))
    with pytest.raises(ValueError, match="holds"):
        packed.PackedInts(dict(parts, **{"": parts[""][:-1]})).validate()
    with pytest.raises(ValueError):
        packed.encode(np.asarray([1, -1]))


def test_exceptions_are_packed_as_a_stream_of_their_own():
    # Gaps too large for a byte mostly fit two: kept as 16-bit values with the few
    # larger ones apart, not all as wide as the largest (index format 9).
    rng = np.random.default_rng(3)
    gaps = rng.geometric(0.05, 50_000)
    gaps[::40] = rng.integers(300, 60_000, len(gaps[::40]))
    gaps[::5000] = 1_000_000
    parts = packed.encode(gaps)
    stream = packed.PackedInts(parts)
    stream.validate(full=True)
    assert stream.range(0, len(gaps)).tolist() == gaps.tolist()
    inner = stream.exceptions
    assert isinstance(inner, packed.PackedInts) and inner.width == 16
    assert len(parts[".x.x"]) == 10 and parts[".x.x"].dtype == np.uint32
    plain = packed.narrow(gaps[gaps >= 255])  # what format 8 kept
    stored = sum(parts[f".x{suffix}"].nbytes for suffix in ("", ".x", ".xc", ".n"))
    assert stored < 0.6 * plain.nbytes
    assert stream.bytes == 4
    assert packed.PackedInts(packed.encode(np.arange(300) % 7)).bytes == 1


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 3000),
    st.lists(st.tuples(st.integers(0, 2999), st.integers(300, 10**6)), max_size=6),
    st.data(),
)
def test_ranges_with_few_patched_blocks_read_only_those(size, large, data):
    # Most blocks hold no exception (a frequent term's gaps): the read looks only in
    # the blocks that do, and must find the same values as a full pass.
    values = np.asarray([(i * 7) % 200 for i in range(size)], dtype=np.int64)
    for at, value in large:
        values[at % size] = value
    stream = packed.PackedInts(packed.encode(values))
    low = data.draw(st.integers(0, size))
    high = data.draw(st.integers(low, size))
    assert stream.range(low, high).tolist() == values[low:high].tolist()
    assert stream.range(low, high, np.uint32).tolist() == values[low:high].tolist()


def test_counts_of_exceptions_that_contradict_the_values_are_refused():
    values = np.zeros(128 * 40, dtype=np.int64)
    values[[5, 130, 131]] = 1000  # blocks 0 and 1 hold exceptions; 38 blocks none
    parts = packed.encode(values)
    assert packed.PackedInts(parts).range(0, len(values)).tolist() == values.tolist()
    moved = parts[".xc"].astype(np.int64)
    moved[1] = 0  # block 0 claims no exception though its values escape
    damaged = packed.PackedInts(dict(parts, **{".xc": moved}))
    with pytest.raises(ValueError, match="do not fit"):
        damaged.range(0, len(values))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(0, 200), st.integers(0, 70_000), st.integers(0, 2**31)),
        max_size=3000,
    ),
    st.sampled_from([packed.BLOCK, 3 * packed.BLOCK]),
)
def test_a_merge_encodes_a_stream_as_encoding_it_whole(tmp_path_factory, values, chunk):
    # Merges encode streams larger than memory from spilled files, a chunk at a time,
    # then the exceptions from theirs: the same arrays as encoding the values whole.
    folder = tmp_path_factory.mktemp("spill")
    array = np.asarray(values, dtype=np.int64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(postings_merge, "ENCODE_CHUNK", chunk)
        spill = postings_merge._Spill(folder, ["gaps"])
        spill.write("gaps", array)
        spill.close()
        writer = ArrayFileWriter(folder / "out.slp")
        spill.encode_to(writer, "f.gaps", "gaps", folder)
        writer.close()
    mapped = map_file(folder / "out.slp")
    got = read_arrays(folder / "out.slp", mapped)
    want = packed.encode(array)
    for suffix in packed.STREAM_SUFFIXES:
        assert got[f"f.gaps{suffix}"].tolist() == want[suffix].tolist(), suffix
    assert packed.PackedInts(want).range(0, len(values)).tolist() == values
