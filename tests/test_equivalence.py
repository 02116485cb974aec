"""Speed never changes answers: the bulk codec path and worker processes give the same
top-10 ids and scores as Whoosh's own add_document path, for 200 title queries."""

from __future__ import annotations

import random

import pytest

import searchlib
from searchlib import indexing
from searchlib.analysis.stemmer import STEMS
from searchlib.document import normalize_record
from searchlib.engine.arrays import arrays_path, term_key
from searchlib.engine.merge import MergePolicy
from searchlib.indexing import engine_document
from searchlib.stemcache import STEM_FILE

from .conftest import ARTICLES


def _corpus(count: int = 400) -> list[dict]:
    rng = random.Random(5)
    words = " ".join(a["body"] + " " + a["title"] for a in ARTICLES).split()
    docs = []
    for number in range(count):
        body = " ".join(rng.choices(words, k=rng.randint(10, 120))) + "."
        title = " ".join(rng.choices(words, k=rng.randint(3, 8)))
        model = rng.choice(ARTICLES)
        docs.append(
            {
                "id": f"d{number}",
                "title": title,
                "body": body,
                "category": model["category"],
                "source": model["source"],
                "published": model.get("published"),
            }
        )
    return docs


def _queries(docs: list[dict], count: int = 200) -> list[str]:
    rng = random.Random(9)
    queries = []
    while len(queries) < count:
        words = rng.choice(docs)["title"].split()
        queries.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 4)))))
    return queries


def _answers(ix: searchlib.Index, queries: list[str]) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in ix.search(q, snippets=False)] for q in queries]


def _whooshs_own(path, docs: list[dict]) -> searchlib.Index:
    """An index written by Whoosh's own add_document path: the reference."""
    reference = searchlib.Index.create(path, workers=1)
    writer = reference._engine.writer(5, bulk=False)
    for doc in docs:
        writer.add(engine_document(reference.analyzer, normalize_record(doc)), upsert=False)
    writer.commit()
    return reference


def test_bulk_and_parallel_paths_answer_like_whooshs_own(tmp_path, monkeypatch):
    docs = _corpus()
    queries = _queries(docs)

    reference = _whooshs_own(tmp_path / "whoosh", docs)

    bulk = searchlib.Index.create(tmp_path / "bulk", workers=1)
    bulk.add(docs)

    monkeypatch.setattr(indexing, "PARALLEL_MIN_DOCS", 50)
    monkeypatch.setattr("searchlib.indexing.PARALLEL_MIN_DOCS", 50)
    parallel = searchlib.Index.create(tmp_path / "parallel", workers=2)
    parallel.add(docs)
    assert parallel.stats()["segments"] >= 2

    expected = _answers(reference, queries)
    assert sum(len(a) for a in expected) > 500
    assert _answers(bulk, queries) == expected
    got = _answers(parallel, queries)
    for mine, theirs in zip(got, expected, strict=True):
        assert [i for i, _ in mine] == [i for i, _ in theirs]
        assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], rel=1e-12)
    # Upserts through workers replace, never duplicate.
    parallel.add(docs[:100])
    assert len(parallel) == len(docs) and parallel.check() == []


def test_stem_cache_persists_with_the_index(tmp_path):
    path = tmp_path / "ix"
    with searchlib.Index.create(path) as ix:
        ix.add({"id": "1", "body": "Pemerintah membangun jembatan penyeberangan"})
    assert (path / STEM_FILE).exists()
    saved = STEMS.export()
    STEMS.clear()  # as in a fresh process
    try:
        searchlib.Index.open(path).close()
        assert STEMS.export().get("membangun") == "bangun"
    finally:
        STEMS.update(saved)


def test_damaged_stem_cache_is_ignored(tmp_path):
    path = tmp_path / "ix"
    searchlib.Index.create(path).close()
    (path / STEM_FILE).write_bytes(b"not gzip")
    with searchlib.Index.open(path) as ix:
        ix.add({"id": "1", "body": "membangun"})
        assert ix.search("bangun").ids() == ["1"]


def test_optimize_keeps_answers_and_scoring_arrays(tmp_path):
    docs = _corpus(150)
    queries = _queries(docs, 50)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    for start in range(0, len(docs), 50):
        ix.add(docs[start : start + 50])
    before = _answers(ix, queries)
    ix.optimize()
    assert ix.stats()["segments"] == 1
    assert list((tmp_path / "ix").glob("*.slp"))
    after = _answers(ix, queries)
    for mine, theirs in zip(after, before, strict=True):
        assert [i for i, _ in mine] == [i for i, _ in theirs]
        assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], rel=1e-12)


def _postings_of(ix: searchlib.Index) -> dict:
    """Every field's postings by id, as the snapshot reads them (from postings files, or
    through Whoosh for segments without one), with frequencies and positions; each
    id's document and labels."""
    snapshot = ix._engine.snapshot()
    id_of = {d: snapshot.stored(d)["id"] for d in snapshot.live_docnums()}
    found: dict = {}
    for (_leaf, offset), columns in zip(snapshot._leaves, snapshot._leaf_columns, strict=True):
        for field, arrays in columns.arrays.fields.items():
            for term, _df in arrays.vocabulary().items():
                index = arrays.find(term, term_key(term))
                docs, tfs = arrays.postings(index)
                where = _positions(arrays, index, docs)
                for doc, tf in zip(docs.tolist(), tfs.tolist(), strict=True):
                    if doc + offset in id_of:
                        positions = tuple(where[doc].tolist()) if where else None
                        found.setdefault((field, term), set()).add(
                            (id_of[doc + offset], tf, positions)
                        )
    # Ids and labels, as the id tables and columns give them.
    for docnum, doc_id in id_of.items():
        assert snapshot.docnum_of(doc_id) == docnum
        found["category", doc_id] = snapshot.category_values[snapshot.category[docnum]]
        found["source", doc_id] = snapshot.source_values[snapshot.source[docnum]]
    return found


def test_bulk_writer_writes_the_postings_whoosh_writes(tmp_path):
    docs = _corpus(600)
    reference = _whooshs_own(tmp_path / "whoosh", docs)
    bulk = searchlib.Index.create(tmp_path / "bulk", workers=1)
    bulk.add(docs)

    expected, got = _postings_of(reference), _postings_of(bulk)
    assert got.keys() == expected.keys()
    assert max(len(postings) for postings in got.values()) > 300
    assert any(p[2] and len(p[2]) > 1 for postings in got.values() for p in postings)
    assert got == expected


def test_merges_keep_every_posting_and_answer(tmp_path, monkeypatch):
    # Many commits, replacements and deletions; merges in small hash ranges.
    monkeypatch.setattr("searchlib.engine.postings_merge.CHUNK_POSTINGS", 500)
    docs = _corpus(300)
    queries = _queries(docs, 60)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    ix._engine.merge_policy = MergePolicy(factor=3, floor=10)
    for start in range(0, len(docs), 12):
        ix.add(docs[start : start + 12])
        ix.add(dict(docs[start], title="judul baru " + docs[start]["title"]))
    ix.delete([f"d{n}" for n in range(0, 300, 7)])
    live = [d for n, d in enumerate(docs) if n % 7]
    live = [dict(d, title="judul baru " + d["title"]) if int(d["id"][1:]) % 12 == 0 else d
            for d in live]  # fmt: skip
    reference = _whooshs_own(tmp_path / "whoosh", live)
    assert 1 < ix.stats()["segments"] < 25
    assert _postings_of(ix) == _postings_of(reference)
    assert _answers(ix, queries) == _answers(reference, queries)
    ix.optimize()
    assert ix.stats()["segments"] == 1 and ix.stats()["deleted_pending_merge"] == 0
    assert _postings_of(ix) == _postings_of(reference)
    assert ix.check() == []


def _columns_of(ix: searchlib.Index, *, saved: bool) -> list[tuple]:
    from searchlib.engine.snapshot import _SegmentColumns

    snapshot = ix._engine.snapshot()
    out = []
    for leaf, _offset in snapshot._leaves:
        columns = _SegmentColumns(leaf, ix.path if saved else None)
        assert columns.saved == saved
        out.append(
            (
                {k: v.tolist() for k, v in columns.numbers.items()},
                {
                    name: [strings[c] if c >= 0 else None for c in codes.tolist()]
                    for name, (codes, strings) in columns.labels.items()
                },
            )
        )
    return out


def test_columns_saved_with_segments_match_whooshs(tmp_path):
    docs = _corpus(300)
    docs[3]["published"] = None
    docs[4]["category"] = None
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    for start in range(0, len(docs), 100):
        ix.add(docs[start : start + 100])
    ix.delete(["d5", "d150"])
    saved = _columns_of(ix, saved=True)
    assert saved == _columns_of(ix, saved=False)
    labels = saved[0][1]
    assert labels["category"][4] is None and labels["category"][0] is not None
    ix.optimize()  # a merge writes them from the merged segments' columns
    assert _columns_of(ix, saved=True) == _columns_of(ix, saved=False)


def test_damaged_saved_columns_fall_back_to_whoosh(tmp_path):
    import numpy as np

    from searchlib.engine.arrays import SegmentFileWriter, _read_arrays

    docs = _corpus(60)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    ix.add(docs)
    expected = _columns_of(ix, saved=False)
    (path,) = (tmp_path / "ix").glob("*.slp")
    data = {name: np.array(array) for name, array in _read_arrays(path).items()}
    data["#category.codes"][0] = 1000  # no such category
    data["#title_len"] = data["#title_len"][:5]  # wrong length
    rewritten = SegmentFileWriter(path)
    for name, array in data.items():
        rewritten.add(name, array)
    rewritten.close()
    with searchlib.Index.open(tmp_path / "ix") as reopened:
        assert _columns_of(reopened, saved=True) == expected
        category = docs[0]["category"]
        found = reopened.search(docs[0]["title"], filters={"category": category}, limit=100)
        assert "d0" in found.ids()


def test_segments_merged_by_small_commits_get_arrays(tmp_path):
    # One article per commit: small segments merge as they come; every merged segment
    # has its postings file, and a reader caching segments picks them up.
    docs = _corpus(24)
    queries = _queries(docs, 20)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    reader = searchlib.Index.open(tmp_path / "ix")
    for doc in docs:
        ix.add(doc)
        reader.search(doc["title"])  # a reader caching segments as they come and go
    engine = ix._engine
    assert ix.stats()["segments"] < len(docs)  # merges happened
    assert all(
        arrays_path(ix.path, segment.segment_id()).exists()
        for segment in engine.whoosh_index()._segments()
    )
    snapshot = reader._engine.snapshot()
    assert all(columns.saved for columns in snapshot._leaf_columns)
    assert _answers(reader, queries) == _answers(ix, queries)


def _positions(field, index, docs):
    """Positions of term ``index`` per document, from ``positions_flat``."""
    if not field.positional:
        return {}
    found, positions = field.positions_flat(index, docs)
    return {doc: positions[found == doc] for doc in docs.tolist()}
