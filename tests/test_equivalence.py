"""Speed never changes answers: the in-process path, worker processes and merges give
the same postings as an independent reference (the analyzer run over the text, document
by document) and the same rankings as a brute-force BM25F over the stored text."""

from __future__ import annotations

import random

import pytest

import searchlib
from searchlib.analysis import Analyzer, stemmer
from searchlib.analysis.stemmer import STEMS
from searchlib.document import normalize_record
from searchlib.engine import EXACT, STOP, TEXT_FIELDS
from searchlib.engine.arrays import term_key
from searchlib.engine.merge import MergePolicy
from searchlib.engine.stems import STEM_FILE
from searchlib.query.ranking import Ranking

from .conftest import ARTICLES
from .test_bm25 import _bm25f_reference


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


def _reference_postings(docs: list[dict]) -> dict:
    """Every field's postings by id, computed from the text alone: stems with their
    positions for title and body, normalized forms and counts for the exact twins;
    each id's labels."""
    analyzer = Analyzer()
    found: dict = {}
    for doc in docs:
        record = normalize_record(doc)
        for name in TEXT_FIELDS:
            analyzed = analyzer.index_text(record[name])
            for term, positions in analyzed.terms.items():
                found.setdefault((name, term.encode()), set()).add(
                    (record["id"], len(positions), tuple(positions))
                )
            for norm, positions in analyzed.norms.items():
                found.setdefault((EXACT[name], norm.encode()), set()).add(
                    (record["id"], len(positions), None)
                )
            # Dropped stopwords by position, from the tokens (not from index_text).
            stops: dict[str, list[int]] = {}
            for token in analyzer.explain(record[name]):
                if token.why == "stopword":
                    stops.setdefault(token.term, []).append(token.position)
            for word, positions in stops.items():
                found.setdefault((STOP[name], word.encode()), set()).add(
                    (record["id"], len(positions), tuple(positions))
                )
        found["category", record["id"]] = record["category"]
        found["source", record["id"]] = record["source"]
    return found


def test_bulk_and_parallel_paths_answer_like_brute_force_bm25f(tmp_path, monkeypatch):
    docs = _corpus()
    queries = _queries(docs)

    bulk = searchlib.Index.create(tmp_path / "bulk", workers=1)
    bulk.add(docs)

    monkeypatch.setattr("searchlib.indexing.PARALLEL_MIN_DOCS", 50)
    parallel = searchlib.Index.create(tmp_path / "parallel", workers=2)
    parallel.add(docs)
    assert parallel.stats()["segments"] >= 2

    ranking = Ranking(coordination=False)
    weights = dict(ranking.field_boosts)
    for query in queries[:40]:
        expected = _bm25f_reference(docs, query, weights, ranking.exact_boost)
        results = bulk.search(query, limit=10, ranking=ranking, snippets=False)
        assert results.total == len(expected)
        for hit in results:
            assert hit.score == pytest.approx(expected[hit.id], rel=1e-9)
        best = sorted(expected.values(), reverse=True)[: len(results.hits)]
        assert [h.score for h in results] == pytest.approx(best, rel=1e-9)

    expected_answers = _answers(bulk, queries)
    assert sum(len(a) for a in expected_answers) > 500
    got = _answers(parallel, queries)
    for mine, theirs in zip(got, expected_answers, strict=True):
        assert [i for i, _ in mine] == [i for i, _ in theirs]
        assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], rel=1e-12)
    assert _postings_of(parallel) == _postings_of(bulk) == _reference_postings(docs)
    # Upserts through workers replace, never duplicate.
    parallel.add(docs[:100])
    assert len(parallel) == len(docs) and parallel.check() == []


def test_stem_cache_persists_with_the_index_and_is_read_lazily(tmp_path, monkeypatch):
    path = tmp_path / "ix"
    with searchlib.Index.create(path) as ix:
        ix.add({"id": "1", "body": "Pemerintah membangun jembatan penyeberangan"})
        assert ix.analyzer.stem_cache is not STEMS  # the index's own, not the process's
    assert (path / STEM_FILE).exists()
    stemmed = []
    real = stemmer._sastrawi

    def counting():
        stemmed.append(1)
        return real()

    monkeypatch.setattr(stemmer, "_sastrawi", counting)
    # Opened cold: warming reads the synonyms, whose words are not all in this
    # tiny index's stem file.
    with searchlib.Index.open(path, warm=False) as ix:
        cache = ix.analyzer.stem_cache
        assert len(cache) == 0 and len(cache.backing) >= 3  # nothing loaded: mapped
        assert cache.stem("membangun") == "bangun" and not stemmed  # from the file
        ix.add({"id": "2", "body": "Pembangunan jalan"})
        assert ix.search("bangun").total == 2
    other = searchlib.Index.create(tmp_path / "other")
    assert other.analyzer.stem_cache.backing is None  # no stems of another index
    other.close()


def test_damaged_stem_cache_is_ignored(tmp_path):
    path = tmp_path / "ix"
    searchlib.Index.create(path).close()
    (path / STEM_FILE).write_bytes(b"not a stem table")
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
    for columns, offset in snapshot._leaves():
        for field in columns.arrays.field_names:
            arrays = columns.arrays.field(field)
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
        category, source = snapshot.category[docnum], snapshot.source[docnum]
        found["category", doc_id] = snapshot.category_values[category] if category >= 0 else None
        found["source", doc_id] = snapshot.source_values[source] if source >= 0 else None
    return found


def test_segments_hold_the_postings_the_text_makes(tmp_path):
    docs = _corpus(600)
    bulk = searchlib.Index.create(tmp_path / "bulk", workers=1)
    bulk.add(docs)
    expected, got = _reference_postings(docs), _postings_of(bulk)
    assert got.keys() == expected.keys()
    assert max(len(postings) for postings in got.values() if isinstance(postings, set)) > 300
    assert any(
        p[2] and len(p[2]) > 1
        for postings in got.values()
        if isinstance(postings, set)
        for p in postings
    )
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
    reference = searchlib.Index.create(tmp_path / "reference", workers=1)
    reference.add(live)  # one segment, never merged
    ix.wait_for_merges()
    assert 1 < ix.stats()["segments"] < 25
    assert _postings_of(ix) == _reference_postings(live)
    assert _answers(ix, queries) == _answers(reference, queries)
    ix.optimize()
    assert ix.stats()["segments"] == 1 and ix.stats()["deleted_pending_merge"] == 0
    assert _postings_of(ix) == _reference_postings(live)
    assert ix.check() == []


def test_merged_segments_keep_columns_and_stored_documents(tmp_path):
    docs = _corpus(300)
    docs[3]["published"] = None
    docs[4]["category"] = None
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    for start in range(0, len(docs), 100):
        ix.add(docs[start : start + 100])
    ix.delete(["d5", "d150"])
    before = {doc_id: ix.get(doc_id) for doc_id in ix.ids()}
    ix.optimize()  # a merge copies stored documents and columns
    assert {doc_id: ix.get(doc_id) for doc_id in ix.ids()} == before
    assert ix.get("d4")["category"] is None and ix.get("d3")["published"] is None
    found = ix.search("", filters={"category": docs[0]["category"]}, limit=1000)
    assert "d4" not in found.ids()
    snapshot = ix._engine.snapshot()
    assert [snapshot.doc_id(d) for d in snapshot.live_docnums()] == [
        snapshot.stored(d)["id"] for d in snapshot.live_docnums()
    ]


def test_segments_merged_by_small_commits_answer_alike(tmp_path):
    # One article per commit: small segments merge as they come; a reader caching
    # segments as they come and go answers as the writer does.
    docs = _corpus(24)
    queries = _queries(docs, 20)
    ix = searchlib.Index.create(tmp_path / "ix", workers=1)
    reader = searchlib.Index.open(tmp_path / "ix")
    for doc in docs:
        ix.add(doc)
        reader.search(doc["title"])
    ix.wait_for_merges()
    assert ix.stats()["segments"] < len(docs)  # merges happened
    names = {p.name for p in ix.path.iterdir()}
    commit = ix._engine.latest_commit()
    assert {n for n in names if n.startswith("seg_")} == commit.file_names()
    assert _answers(reader, queries) == _answers(ix, queries)


def _positions(field, index, docs):
    """Positions of term ``index`` per document, from ``positions_flat``."""
    if not field.positional:
        return {}
    found, positions = field.positions_flat(index, docs)
    return {doc: positions[found == doc] for doc in docs.tolist()}
