"""Reading a JSON array one element at a time: the same values as ``json.loads``,
whatever the chunking, and what came before a flaw is kept."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib import Index, json_array
from searchlib.ingest import index_paths
from searchlib.json_array import JsonArrayError, json_items

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    items=st.one_of(st.lists(_values, max_size=8), _values),
    indent=st.sampled_from([None, 0, 2]),
    chunk=st.sampled_from([1, 2, 7, 64, 1 << 20]),
)
def test_the_same_values_as_json_loads_whatever_the_chunks(monkeypatch, items, indent, chunk):
    monkeypatch.setattr(json_array, "CHUNK", chunk)  # boundaries inside every token
    text = json.dumps(items, indent=indent, ensure_ascii=False)
    found = list(json_items(io.BytesIO(b"\xef\xbb\xbf" + text.encode())))
    if isinstance(items, list):
        assert found == list(enumerate(items, start=1))
    else:
        assert found == [(0, items)]


@pytest.mark.parametrize(
    ("text", "kept", "number", "reason"),
    [
        ('[{"a": 1}, {"a": 2}', 2, 3, "expected"),  # cut short after an element
        ('[{"a": 1}, {"a": 2', 1, 2, "invalid JSON"),  # cut short inside one
        ('[{"a": 1} {"a": 2}]', 1, 2, "expected ','"),
        ('[{"a": 1},]', 1, 2, "before ']'"),
        ('[{"a": 1}] x', 1, 2, "after the JSON value"),
        ('{"a": 1} {"b": 2}', 1, 0, "after the JSON value"),
        ("[1, 2, tru", 2, 3, "invalid JSON"),
    ],
)
def test_a_flaw_keeps_what_came_before(monkeypatch, text, kept, number, reason):
    monkeypatch.setattr(json_array, "CHUNK", 5)
    found = []
    with pytest.raises(JsonArrayError, match=reason) as caught:
        for item in json_items(io.BytesIO(text.encode())):
            found.append(item)
    assert len(found) == kept and caught.value.number == number


def test_bad_utf8_is_one_element_and_a_runaway_element_stops(monkeypatch):
    found = list(json_items(io.BytesIO(b'[{"a": "\xff"}, {"a": "\\ud800 ok"}, 3]')))
    assert found == [(1, json_array.NOT_UTF8), (2, {"a": "\ud800 ok"}), (3, 3)]
    monkeypatch.setattr(json_array, "MAX_ELEMENT_BYTES", 1000)
    monkeypatch.setattr(json_array, "CHUNK", 100)
    endless = io.BytesIO(b'[1, "' + b"x" * 100_000)  # a string that never closes
    with pytest.raises(JsonArrayError, match="invalid JSON") as caught:
        list(json_items(endless))
    assert caught.value.number == 2 and endless.tell() < 5_000  # not read to the end


def test_a_large_gzipped_array_indexes_as_it_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(json_array, "CHUNK", 4096)
    articles = [
        {"id": f"j{i}", "title": f"judul {i}", "body": f"berita nomor {i}"} for i in range(2500)
    ]
    text = json.dumps(articles, indent=1)
    cut = text[: len(text) * 3 // 4]  # a truncated export: what came before is kept
    (tmp_path / "all.json.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "cut.json").write_text(cut, "utf-8")
    ix = Index.create(tmp_path / "ix")
    summary = index_paths(ix, [tmp_path / "all.json.gz"], batch_size=1000)
    assert summary.added == 2500 and not summary.bad
    assert ix.get("j1234") == {**ix.get("j1234"), "title": "judul 1234"}
    other = Index.create(tmp_path / "ix2")
    summary = index_paths(other, [tmp_path / "cut.json"], batch_size=1000)
    (bad,) = summary.bad
    assert 1000 < summary.added < 2500 and bad.location.endswith(f"cut.json:{summary.added + 1}")
    ix.close()
    other.close()
