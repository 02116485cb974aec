"""Query language, filters, facets, sorting, paging, suggestions and similar articles."""

from __future__ import annotations

import re

import pytest

from searchlib import Index, QueryError
from searchlib.query import (
    MUST,
    MUST_NOT,
    SHOULD,
    DateRange,
    Fuzzy,
    Keyword,
    Phrase,
    Prefix,
    Word,
    parse_query,
)


def test_parser_builds_clauses():
    root = parse_query('"joe biden" +kabul -taliban title:gempa category:olahraga bangun* kabu~')
    kinds = [(occur, type(node)) for occur, node in root.clauses]
    assert kinds == [
        (SHOULD, Phrase),
        (MUST, Word),
        (MUST_NOT, Word),
        (SHOULD, Word),
        (MUST, Keyword),
        (SHOULD, Prefix),
        (SHOULD, Fuzzy),
    ]
    assert root.clauses[3][1].field == "title"


def test_parser_and_or_not():
    root = parse_query("rusia AND taliban OR china NOT kabul")
    assert [(o, n.text) for o, n in root.clauses] == [
        (MUST, "rusia"),
        (MUST, "taliban"),
        (SHOULD, "china"),
        (MUST_NOT, "kabul"),
    ]


def test_parser_dates():
    ((occur, node),) = parse_query("published:[2021-08-01 TO 2021-08-31]").clauses
    assert occur == MUST and isinstance(node, DateRange)
    assert node.end - node.start == 31 * 86400
    ((_, after),) = parse_query("published:>2021").clauses
    assert after.start is not None and after.end is None
    with pytest.raises(QueryError) as excinfo:
        parse_query("kabul published:2021-13-45")
    assert excinfo.value.position == 6


@pytest.mark.parametrize(
    "text",
    [
        '"unclosed phrase',
        "((kabul",
        "kabul)",
        "AND",
        "OR OR",
        "NOT",
        "-",
        "+",
        "*",
        "~",
        "title:",
        "nosuchfield:kabul",
        "a:b:c",
        '""',
        "()",
        "kabul~9",
        "10:30",
    ],
)
def test_malformed_queries_degrade(index, text):
    # Malformed syntax reads as its words: the same hits as the words alone.
    results = index.search(text, limit=50)
    words = " ".join(re.findall(r"[^\W\d_]{2,}|\d+", text.replace("nosuchfield", "")))
    words = " ".join(w for w in words.split() if w not in ("AND", "OR", "NOT", "title"))
    expected = index.search(words, limit=50) if words.strip() else None
    assert results.ids() == ([] if expected is None else expected.ids()), words
    assert results.total == len(results.ids())


def test_plain_words_rank_documents_matching_more_words_first(index):
    results = index.search("evakuasi bekasi kabul")
    assert results.ids()[0] == "a2"
    assert set(results.ids()) == {"a1", "a2"}


def test_stems_match_across_affixes(index):
    assert "a1" in index.search("bangun").ids()
    assert index.search("pembangunan").ids()[0] == "a1"


def test_phrase(index):
    assert index.search('"penerbangan evakuasi"').ids() == ["a2"]
    assert index.search('"evakuasi penerbangan"').total == 0
    assert index.search('"jalan tol"').ids() == ["a1"]


def test_required_and_excluded(index):
    assert set(index.search("harga -beras").ids()) == set()
    assert index.search("pemerintah -bekasi").ids() == ["a4"]
    assert index.search("pemerintah +beras").ids() == ["a4"]
    assert set(index.search("pemerintah NOT beras").ids()) == {"a1"}
    assert index.search("-pemerintah").total == 6


def test_boolean_groups(index):
    assert set(index.search("(bekasi OR kabul) AND pemerintah").ids()) == {"a1"}
    assert set(index.search("bekasi OR kabul").ids()) == {"a1", "a2"}
    assert index.search("bekasi AND kabul").total == 0


def test_field_restriction(index):
    assert index.search("title:gempa").ids() == ["a8"]
    assert index.search("title:ekonomi").total == 0
    assert index.search("body:ekonomi").ids() == ["a6"]


def test_keyword_fields(index):
    assert set(index.search("category:ekonomi").ids()) == {"a1", "a4", "a6"}
    assert index.search('source:"CNN Indonesia" gempa').ids() == ["a8"]
    assert index.search("id:a3").ids() == ["a3"]


def test_prefix_and_fuzzy(index):
    assert "a5" in index.search("vaksin*").ids()
    assert "a1" in index.search("bangun*").ids()
    assert index.search("afganistan~").ids() == ["a2"]
    assert index.search("tsunamy~1").ids() == ["a8"]


def test_date_ranges_in_query_and_arguments(index):
    assert set(index.search("published:2021-08").ids()) == {"a1", "a2"}
    assert index.search("published:[2021-09-01 TO *]", sort="oldest").ids() == ["a3", "a7"]
    assert set(index.search("pemerintah", since="2021").ids()) == {"a1"}
    assert set(index.search("pemerintah", until="2020-12-31").ids()) == {"a4"}


def test_filters_facets_and_totals(index):
    results = index.search("pemerintah OR warga OR wisatawan", filters={"category": "ekonomi"})
    assert set(results.ids()) == {"a1", "a4"}
    everything = index.search("pemerintah OR warga OR wisatawan", facets=["category", "source"])
    assert everything.facets["category"] == {"ekonomi": 2, "nasional": 1, "wisata": 1}
    assert everything.facets["source"]["antara"] == 3
    # Collected only when asked for, and only the fields named.
    assert index.search("pemerintah OR warga OR wisatawan").facets == {}
    only = index.search("pemerintah OR warga OR wisatawan", facets="source")
    assert set(only.facets) == {"source"}
    with pytest.raises(QueryError, match="'author'"):
        index.search("gempa", facets=["author"])
    assert index.search("gempa", filters={"source": ["kumparan", "cnn indonesia"]}).ids() == ["a8"]
    with pytest.raises(QueryError, match="'author'"):
        index.search("gempa", filters={"author": "x"})


def test_sort_newest_and_oldest(index):
    newest = index.search("category:ekonomi", sort="newest").ids()
    assert newest == ["a1", "a4", "a6"]  # undated last
    assert index.search("category:ekonomi", sort="oldest").ids() == ["a4", "a1", "a6"]


def test_pagination(index):
    query = "pemerintah OR warga OR wisatawan OR harga"
    full = index.search(query, limit=100).ids()
    page1 = index.search(query, limit=2).ids()
    page2 = index.search(query, limit=2, offset=2).ids()
    assert page1 + page2 == full[:4]
    assert index.search(query, limit=2, offset=2).total == len(full)
    assert index.search(query, limit=0).hits == []


def test_empty_and_stopword_queries_return_nothing(index):
    for text in ["", "   ", "yang dan di", "!!!"]:
        results = index.search(text)
        assert results.total == 0 and results.hits == []


def test_bad_arguments_raise_query_error(index):
    with pytest.raises(QueryError, match="limit"):
        index.search("x", limit=-1)
    with pytest.raises(QueryError, match="sort"):
        index.search("x", sort="random")
    with pytest.raises(QueryError, match="since"):
        index.search("x", since="yesterday")
    with pytest.raises(QueryError, match="str"):
        index.search(None)  # type: ignore[arg-type]


def test_hits_carry_fields_rank_and_score(index):
    hit = index.search("Kabul")[0]
    assert hit.id == "a2" and hit.rank == 1 and hit.score > 0
    assert hit.source == "jpnn.com" and hit.category == "internasional"
    assert hit.published.startswith("2021-08-30")
    assert hit.to_dict()["snippet"]["spans"]


def test_explain_breaks_the_score_down(index):
    hit = index.search("evakuasi kabul", explain=True)[0]
    fields = {name for part in hit.explanation for name in part.field_tf}
    assert fields >= {"body", "title"}
    assert all(part.field == "+".join(part.field_tf) for part in hit.explanation)
    assert sum(part.score for part in hit.explanation) == pytest.approx(hit.score)


def test_suggestion_for_misspelled_words(tmp_path):
    docs = [
        {"id": str(i), "body": f"Evakuasi warga dari Afghanistan hari ke {i}"} for i in range(6)
    ]
    with Index.create(tmp_path / "ix") as ix:
        ix.add(docs)
        assert ix.search("evakuas1", suggest=True).suggestion == "evakuasi"
        assert ix.search("Afganistan", suggest=True).suggestion == "afghanistan"
        assert ix.search("evakuasi", suggest=True).suggestion is None
        assert ix.search("evakuas1").suggestion is None  # not asked for


def test_suggestion_on_a_small_index_when_nothing_is_found(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add({"id": "a", "title": "Evakuasi dari Afghanistan", "body": "Pesawat evakuasi."})
        assert ix.search("Afganistan", suggest=True).suggestion == "afghanistan"  # found nothing
        assert ix.search("evakuasi", suggest=True).suggestion is None
        found = ix.search("evakuasi Afganistan", suggest=True)  # found something: no weak one
        assert found.total == 1 and found.suggestion is None


def test_similar_articles(index):
    results = index.similar("a1")
    assert "a1" not in results.ids()
    assert results.ids()[0] in {"a4", "a6"}
    with pytest.raises(QueryError, match="nope"):
        index.similar("nope")


def test_seed_article_search(tmp_path, seed_file):
    from searchlib.ingest import index_paths

    with Index.create(tmp_path / "ix") as ix:
        summary = index_paths(ix, [seed_file])
        assert summary.added == 1
        hit = ix.search("evakuasi Kabul")[0]
        assert hit.id == seed_file.stem
        assert "Kabul" in hit.snippet.text()
        assert ix.get(hit.id)["related"][0] == "Rusia Nilai Indonesia Sangat Klop dengan BRICS"
        assert ix.get(hit.id)["source"] == "jpnn.com"


def test_numbers_and_codes_are_not_typos(tmp_path):
    docs = [
        {"id": "y2024", "body": "Anggaran tahun 2024 disahkan"},
        {"id": "y2025", "body": "Anggaran tahun 2025 disahkan"},
        {"id": "y2014", "body": "Anggaran tahun 2014 disahkan"},
        {"id": "plat", "body": "Mobil berpelat B-1234 ditilang"},
        {"id": "plat2", "body": "Mobil berpelat B-1235 ditilang"},
        *({"id": f"e{i}", "body": "Pesawat A320 dan evakuasi"} for i in range(6)),
    ]
    with Index.create(tmp_path / "ix") as ix:
        ix.add(docs)
        assert ix.search("2024~").ids() == ["y2024"]
        assert ix.search("2024~2").ids() == ["y2024"]
        assert ix.search("b-1234~").ids() == ["plat"]
        assert set(ix.search("anggaran~").ids()) == {"y2024", "y2025", "y2014"}  # words are
        assert ix.search("2023", suggest=True).suggestion is None  # never "corrected"
        assert ix.search("A321", suggest=True).suggestion is None
        assert ix.search("evakuas1", suggest=True).suggestion == "evakuasi"  # a typo


def test_a_phrase_keeps_its_stopwords(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add(
            [
                {"id": "dalam", "title": "Menteri Dalam Negeri lantik gubernur", "body": "x"},
                {"id": "luar", "title": "Menteri Luar Negeri ke Jepang", "body": "x"},
                {"id": "dari", "title": "Menteri dari negeri jiran", "body": "x"},
                {"id": "gak", "title": "Warga gak setuju", "body": "x"},
            ]
        )
        ix.optimize()
        assert ix.search('"menteri dalam negeri"').ids() == ["dalam"]
        assert ix.search('"menteri dari negeri"').ids() == ["dari"]
        assert ix.search('"dalam negeri"').ids() == ["dalam"]  # a leading stopword too
        assert set(ix.search("menteri negeri").ids()) == {"dalam", "luar", "dari"}
        # A colloquial stopword is kept as its standard form: gak is tidak.
        assert ix.search('"warga tidak setuju"').ids() == ["gak"]
        plain = ix.search("menteri negeri", explain=True, synonyms=False)
        # Stopword positions are never scored: a phrase-free query ranks as before.
        for hit in plain:
            assert all("_stop" not in part.field for part in hit.explanation)
