"""BM25 numbers: searchlib's scores equal Lucene's BM25 formula to 1e-6.

The reference is computed here independently, from token counts and the formula
idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
tf part = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)).
"""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from searchlib import Analyzer, Index, Ranking
from searchlib.query.ranking import bm25_idf

BODY_ONLY = Ranking(field_boosts={"body": 1.0}, exact_boost=0.0, coordination=False)
WORDS = [
    "kabul",
    "evakuasi",
    "penerbangan",
    "taliban",
    "rusia",
    "kedutaan",
    "militer",
    "perbatasan",
    "pemerintah",
    "ekonomi",
    "harga",
    "beras",
    "petani",
    "pasar",
    "gempa",
    "warga",
    "tsunami",
    "vaksin",
    "pelajar",
    "sekolah",
    "jalan",
    "jembatan",
    "bandara",
    "pesawat",
    "presiden",
    "menteri",
    "polisi",
    "hakim",
    "sidang",
    "banjir",
    "hujan",
    "sungai",
]


def test_idf_matches_lucene_formula():
    assert bm25_idf(10, 1) == pytest.approx(math.log(1 + 9.5 / 1.5))
    assert bm25_idf(10, 10) == pytest.approx(math.log(1 + 0.5 / 10.5))
    assert bm25_idf(1, 1) > 0


def test_hand_computed_small_corpus(tmp_path):
    # Three documents; stems equal the words. dl = 3, 2, 1; avgdl = 2; N = 3.
    with Index.create(tmp_path / "ix") as ix:
        ix.add(
            [
                {"id": "d1", "body": "kabul kabul taliban"},
                {"id": "d2", "body": "kabul rusia"},
                {"id": "d3", "body": "rusia"},
            ]
        )
        scores = {h.id: h.score for h in ix.search("kabul", ranking=BODY_ONLY)}
    # df(kabul) = 2: idf = ln(1 + 1.5/2.5) = ln(1.6) = 0.4700036292457356
    # d1: tf 2, dl 3: 0.47000363 * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 1.5)) = 0.56657972
    # d2: tf 1, dl 2: 0.47000363 * 1 * 2.2 / (1 + 1.2 * 1.0) = 0.47000363
    assert scores["d1"] == pytest.approx(0.5665797174, rel=1e-6)
    assert scores["d2"] == pytest.approx(0.4700036292, rel=1e-6)


def _corpus(seed: int) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for number in range(40):
        length = rng.randint(10, 300)
        words = rng.choices(WORDS, weights=[1 + (i % 7) for i in range(len(WORDS))], k=length)
        docs.append({"id": f"d{number}", "body": " ".join(words)})
    return docs


def _reference(docs: list[dict], query_terms: list[str], k1: float, b: float) -> dict[str, float]:
    analyzer = Analyzer()
    counts = {d["id"]: Counter(t.term for t in analyzer.analyze(d["body"])) for d in docs}
    lengths = {doc_id: sum(c.values()) for doc_id, c in counts.items()}
    n = sum(1 for v in lengths.values() if v)
    avgdl = sum(lengths.values()) / n
    scores: dict[str, float] = {}
    for term in query_terms:
        df = sum(1 for c in counts.values() if c[term])
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for doc_id, c in counts.items():
            tf = c[term]
            if tf:
                part = tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[doc_id] / avgdl))
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * part
    return scores


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("query", ["kabul", "evakuasi taliban", "harga beras petani gempa"])
@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_scores_equal_lucene_bm25(tmp_path, seed, query, k1, b):
    docs = _corpus(seed)
    ranking = Ranking(k1=k1, b=b, field_boosts={"body": 1.0}, exact_boost=0.0, coordination=False)
    terms = [t.term for t in Analyzer().analyze(query)]
    expected = _reference(docs, terms, k1, b)
    with Index.create(tmp_path / f"ix{seed}") as ix:
        ix.add(docs)
        results = ix.search(query, limit=100, ranking=ranking)
    assert results.total == len(expected)
    for hit in results:
        assert hit.score == pytest.approx(expected[hit.id], rel=1e-6)
    ranked = sorted(expected, key=lambda d: (-expected[d], int(d[1:])))
    assert results.ids() == ranked


def test_deleted_documents_leave_the_statistics(tmp_path):
    docs = _corpus(7)
    with Index.create(tmp_path / "ix") as ix:
        ix.add(docs)
        ix.delete([d["id"] for d in docs[:10]])
        results = ix.search("kabul", limit=100, ranking=BODY_ONLY)
    expected = _reference(docs[10:], ["kabul"], 1.2, 0.75)
    for hit in results:
        assert hit.score == pytest.approx(expected[hit.id], rel=1e-6)


def test_field_boosts_add_up(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add(
            [
                {"id": "t", "title": "gempa maluku", "body": "warga mengungsi"},
                {"id": "b", "title": "berita", "body": "gempa guncang maluku"},
            ]
        )
        title_first = ix.search("gempa", ranking=Ranking(field_boosts={"title": 5, "body": 1}))
        body_only = ix.search("gempa", ranking=Ranking(field_boosts={"body": 1}))
    assert title_first.ids()[0] == "t"
    assert body_only.ids() == ["b"]


def test_exact_form_outranks_stem_only_match(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add(
            [
                {"id": "stem", "body": "pemerintah membangun sekolah"},
                {"id": "exact", "body": "pemerintah pembangunan sekolah"},
            ]
        )
        assert ix.search("pembangunan").ids() == ["exact", "stem"]
        flat = ix.search("pembangunan", ranking=Ranking(exact_boost=0))
        assert flat[0].score == pytest.approx(flat[1].score)


def test_ranking_rejects_bad_values():
    with pytest.raises(ValueError, match="k1"):
        Ranking(k1=-1)
    with pytest.raises(ValueError, match="b must"):
        Ranking(b=2)
    with pytest.raises(ValueError, match="'url'"):
        Ranking(field_boosts={"url": 1.0})
