"""Unit tests of the Indonesian analyzer: golden stems, rules, offsets, Whoosh protocol."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from whoosh import fields
from whoosh.filedb.filestore import RamStorage

import searchlib
from searchlib.analysis import Analyzer, read_stem_exclusions
from searchlib.analysis import analyzer as analyzer_module

GOLDEN = Path(__file__).with_name("data") / "golden_terms.tsv"


def _golden() -> list[tuple[str, str | None]]:
    rows = []
    for line in GOLDEN.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            surface, term = line.split("\t")
            rows.append((surface, None if term == "None" else term))
    return rows


def test_golden_table_is_large_enough():
    assert len(_golden()) >= 150


@pytest.mark.parametrize(("surface", "term"), _golden())
def test_golden_terms(surface, term):
    assert Analyzer().term(surface) == term


def test_tokens_carry_offsets_positions_and_terms():
    text = "Kedutaan Rusia di Kabul"
    tokens = searchlib.analyze(text)
    assert [t.term for t in tokens] == ["duta", "rusia", "kabul"]
    assert [t.position for t in tokens] == [0, 1, 3]  # "di" is a stopword but counts
    for token in tokens:
        assert text[token.start : token.end] == token.text


def test_offsets_after_astral_characters():
    text = "😀🇮🇩 Evakuasi 𠀋 di Kabul 👍🏽 warga"
    for token in searchlib.analyze(text):
        assert text[token.start : token.end] == token.text
    assert [t.text for t in searchlib.analyze(text)] == ["Evakuasi", "𠀋", "Kabul", "warga"]


@pytest.mark.parametrize(
    ("surface", "term"),
    [
        ("negara-negara", "negara"),
        ("anak-anaknya", "anak"),
        ("berbalas-balasan", "balas"),
        ("rumah-rumah", "rumah"),
    ],
)
def test_reduplication_is_one_token(surface, term):
    text = f"Warga {surface} itu"
    tokens = [t for t in searchlib.analyze(text) if t.text == surface]
    assert len(tokens) == 1
    assert tokens[0].term == term
    assert text[tokens[0].start : tokens[0].end] == surface


def test_tiba_tiba_is_one_token():
    tokens = Analyzer(stopwords=[]).analyze("tiba-tiba hujan")
    assert tokens[0].text == "tiba-tiba" and tokens[0].term == "tiba"


@pytest.mark.parametrize(
    ("surface", "term", "parts"),
    [
        ("e-KTP", "e-ktp", ["ktp"]),
        ("pasca-Soviet", "pasca-soviet", ["pasca", "soviet"]),
        ("Covid-19", "covid-19", ["covid", "19"]),
    ],
)
def test_hyphenated_compounds_keep_whole_and_parts(surface, term, parts):
    tokens = searchlib.analyze(f"blok {surface} baru")
    whole = [t for t in tokens if t.text == surface]
    assert whole and whole[0].term == term and whole[0].primary
    found = [t.term for t in tokens if not t.primary]
    assert found == parts
    assert {t.position for t in tokens if t.term in parts} == {whole[0].position}


@pytest.mark.parametrize(
    ("surface", "term"),
    [
        ("jpnn.com", "jpnn.com"),
        ("31/8", "31/8"),
        ("Rp1.500.000", "rp1.500.000"),
        ("CSTO", "csto"),
        ("AS", "as"),
    ],
)
def test_special_tokens_survive(surface, term):
    tokens = searchlib.analyze(f"kata {surface} kata")
    assert any(t.text == surface and t.term == term for t in tokens)


def test_rupiah_amount_number_is_searchable():
    terms = [t.term for t in searchlib.analyze("Rp1.500.000")]
    assert "1.500.000" in terms


@pytest.mark.parametrize(
    ("surface", "term"),
    [
        ("Taliban", "taliban"),
        ("Bekasi", "bekasi"),
        ("Bali", "bali"),
        ("Susi", "susi"),
        ("berikan", "beri"),
        ("perbankan", "bank"),
    ],
)
def test_default_stem_exclusions(surface, term):
    assert Analyzer(stopwords=[]).term(surface) == term


def test_user_exclusions_extend_and_replace(tmp_path):
    assert Analyzer().term("pemandangan") == "pandang"
    assert Analyzer(extra_stem_exclusions=["pemandangan"]).term("pemandangan") == "pemandangan"
    assert Analyzer(extra_stem_exclusions={"pemandangan": "view"}).term("pemandangan") == "view"
    assert Analyzer(stem_exclusions=[]).term("Taliban") == "talib"
    path = tmp_path / "exclusions.txt"
    path.write_text("# mine\nkelurahan\nmemasak\tmasakan\n", "utf-8")
    custom = Analyzer(extra_stem_exclusions=read_stem_exclusions(path))
    assert custom.term("kelurahan") == "kelurahan" and custom.term("memasak") == "masakan"


def test_colloquial_map():
    explained = {t.text: t for t in Analyzer(stopwords=[]).explain("gak yg bgt thn")}
    assert explained["gak"].term == "tidak" and explained["gak"].why == "colloquial"
    assert explained["yg"].term == "yang"
    assert explained["bgt"].term == "banget"
    custom = Analyzer(extra_colloquial={"mantul": "mantap"})
    assert custom.term("mantul") == "mantap"


def test_stopwords_dropped_replaceable_and_extendable():
    assert Analyzer().term("yang") is None
    assert Analyzer(stopwords=[]).term("yang") == "yang"
    assert Analyzer(extra_stopwords=["kabul"]).term("Kabul") is None
    assert searchlib.analyze("yang dan di") == []


def test_stemming_can_be_turned_off():
    assert Analyzer(stemming=False).term("membangun") == "membangun"


def test_nfkc_and_casefold_normalize_term_not_surface():
    tokens = searchlib.analyze("ＪＡＫＡＲＴＡ STRASSE")
    assert tokens[0].term == "jakarta" and tokens[0].text == "ＪＡＫＡＲＴＡ"
    assert tokens[1].term == "strasse"


def test_non_ascii_words_are_not_mangled_by_sastrawi():
    assert Analyzer().term("Café") == "café"


def test_explain_includes_stopwords_with_reason():
    why = {t.text: t.why for t in Analyzer().explain("Pembangunan di Taliban")}
    assert why == {"Pembangunan": "stemmed", "di": "stopword", "Taliban": "excluded"}


def test_empty_and_symbol_only_text():
    assert searchlib.analyze("") == []
    assert searchlib.analyze(" ,.;!? -- ") == []


def test_analyze_rejects_non_strings():
    with pytest.raises(TypeError, match="bytes"):
        searchlib.analyze(b"bytes")  # type: ignore[arg-type]


def test_pickle_round_trip_drops_caches():
    analyzer = Analyzer(extra_stopwords=["kabul"])
    analyzer.analyze("Pembangunan Kabul")
    data = pickle.dumps(analyzer)
    assert b"_memo" not in data and b"StemCache" not in data
    restored = pickle.loads(data)
    assert restored == analyzer
    assert [t.term for t in restored.analyze("Pembangunan Kabul")] == ["bangun"]


def test_whoosh_protocol_positions_chars_and_modes():
    analyzer = Analyzer()
    text = "Pemerintah membangun jalan di Bekasi"
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in analyzer(text, positions=True, chars=True, mode="index")
    ]
    assert tokens[1] == ("bangun", 1, 11, 20)
    kept = [t.text for t in analyzer(text, removestops=False)]
    assert "di" in kept
    assert [t.text for t in analyzer("Membangun", tokenize=False)] == ["bangun"]
    norm = analyzer.with_form("norm")
    assert [t.text for t in norm("membangun")] == ["membangun"]


def test_plugs_into_a_whoosh_text_field():
    schema = fields.Schema(body=fields.TEXT(analyzer=Analyzer(), stored=True))
    ix = RamStorage().create_index(schema)
    with ix.writer() as writer:
        writer.add_document(body="Pemerintah membangun jalan tol")
    from whoosh.qparser import QueryParser

    with ix.searcher() as searcher:
        query = QueryParser("body", ix.schema).parse("pembangunan")
        assert len(searcher.search(query)) == 1


def test_analyzers_alike_share_their_classifications():
    # A worker holding replicas of several shards classifies a word once, not once
    # per replica; analyzers that analyze differently never share.
    first, second = Analyzer(), Analyzer()
    assert first.share_classifications(second)
    assert second.term("pemerintahan") == first.term("pemerintahan")
    assert "pemerintahan" in first.cached_surfaces()
    first.term("kebijakan")
    assert "kebijakan" in second.cached_surfaces()
    assert not first.share_classifications(first)
    other = Analyzer(stemming=False)
    assert other != first and not other.share_classifications(first)
    other.term("menteri")
    assert "menteri" not in first.cached_surfaces()


def test_a_full_cache_forgets_its_newer_half(monkeypatch):
    # At the limit the forms classified first stay (a language's common words come
    # first) and the cache halves, never growing past the limit nor starting empty.
    monkeypatch.setattr(analyzer_module, "_CACHE_LIMIT", 10)
    analyzer = Analyzer()
    words = [f"kata{n}" for n in range(25)]
    for word in words:
        analyzer.term(word)
        assert len(analyzer.cached_surfaces()) <= 10
    kept = list(analyzer.cached_surfaces())
    assert kept[:5] == words[:5]
    assert words[-1] in kept and 5 < len(kept) <= 10
