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


def _bm25f_reference(
    docs: list[dict], query: str, weights: dict[str, float], exact: float, k1=1.2, b=0.75
) -> dict[str, float]:
    """Lucene's CombinedFieldQuery, computed from token counts: per query term the
    weighted frequencies and lengths add up (an exact-form occurrence counts 1 + exact
    times); df and N are the largest over the fields; avgdl is the weighted total over N."""
    analyzer = Analyzer()
    stems: dict[str, dict[str, Counter]] = {name: {} for name in weights}
    forms: dict[str, dict[str, Counter]] = {name: {} for name in weights}
    # A field's length counts its words (the parts of a compound add terms, not length).
    length: dict[str, dict[str, int]] = {name: {} for name in weights}
    for doc in docs:
        for name in weights:
            tokens = analyzer.analyze(doc.get(name, ""))
            stems[name][doc["id"]] = Counter(t.term for t in tokens)
            forms[name][doc["id"]] = Counter(t.norm for t in tokens)
            length[name][doc["id"]] = sum(1 for t in tokens if t.primary)
    n_docs = max(sum(1 for v in length[n].values() if v) for n in weights)
    avgdl = sum(w * sum(length[n].values()) for n, w in weights.items()) / n_docs
    scores: dict[str, float] = {}
    for token in analyzer.analyze(query):
        df = max(
            max(
                sum(1 for c in stems[n].values() if c[token.term]),
                sum(1 for c in forms[n].values() if c[token.norm]) if exact else 0,
            )
            for n in weights
        )
        if not df:
            continue
        idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        for doc in docs:
            d = doc["id"]
            tf = sum(
                w * (stems[n][d][token.term] + exact * forms[n][d][token.norm])
                for n, w in weights.items()
            )
            if tf:
                dl = sum(w * length[n][d] for n, w in weights.items())
                part = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
                scores[d] = scores.get(d, 0.0) + idf * part
    return scores


def _two_field_corpus(seed: int) -> list[dict]:
    rng = random.Random(seed)
    forms = ["membangun", "pembangunan", "bangunan", "evakuasi", "kabul", "harga", "beras"]
    words = WORDS + forms
    docs = []
    for number in range(50):
        title = " ".join(rng.choices(words, k=rng.randint(0, 8)))
        body = " ".join(rng.choices(words, k=rng.randint(0, 120)))
        docs.append({"id": f"d{number}", "title": title, "body": body})
    return docs


@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("query", ["kabul", "pembangunan harga", "membangun evakuasi beras"])
@pytest.mark.parametrize(("title", "exact"), [(2.0, 0.0), (3.0, 0.5), (1.0, 1.0)])
def test_bm25f_equals_combined_field_reference(tmp_path, seed, query, title, exact):
    docs = _two_field_corpus(seed)
    weights = {"title": title, "body": 1.0}
    ranking = Ranking(field_boosts=weights, exact_boost=exact, coordination=False)
    expected = _bm25f_reference(docs, query, weights, exact)
    with Index.create(tmp_path / "ix") as ix:
        ix.add(docs)
        results = ix.search(query, limit=100, ranking=ranking)
    assert results.total == len(expected)
    for hit in results:
        assert hit.score == pytest.approx(expected[hit.id], rel=1e-9)


def test_bm25f_weights_are_relative(tmp_path):
    docs = _two_field_corpus(6)
    with Index.create(tmp_path / "ix") as ix:
        ix.add(docs)
        base = ix.search("kabul harga", ranking=Ranking(field_boosts={"title": 2, "body": 1}))
        scaled = ix.search("kabul harga", ranking=Ranking(field_boosts={"title": 6, "body": 3}))
    assert [(h.id, h.score) for h in base] == [(h.id, h.score) for h in scaled]


def test_a_word_in_both_fields_saturates_once(tmp_path):
    # Per-field BM25 summed would give the "both" article two saturations of "gempa".
    docs = [
        {"id": "both", "title": "gempa", "body": "gempa warga"},
        {"id": "body", "title": "berita", "body": "gempa gempa"},
        {"id": "other", "title": "banjir", "body": "hujan deras"},
    ]
    ranking = Ranking(field_boosts={"title": 1, "body": 1}, exact_boost=0, coordination=False)
    with Index.create(tmp_path / "ix") as ix:
        ix.add(docs)
        hit = ix.search("gempa", ranking=ranking, explain=True)[0]
    (part,) = hit.explanation
    assert part.field == "title+body" and part.tf == 2.0 and part.length == 3.0
    assert part.idf < math.log(1 + (3 - 1 + 0.5) / 1.5)  # df is 2 (the body field's)
    assert hit.score < part.idf * 2.2  # one saturation: below the bound of a single term


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
