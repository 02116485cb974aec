"""Synonyms and acronyms: the rules, how queries use them, where they are kept."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import searchlib
from searchlib import Synonyms
from searchlib.analysis import SynonymError, SynonymRule, SynonymTable
from searchlib.cli import cli
from searchlib.engine.checksum import dump_checked_json, load_checked_json
from searchlib.errors import IndexCorruptError
from searchlib.query.execute import execute
from searchlib.query.parse import parse_query
from searchlib.query.plan import AnyOfPlan, compile_query

from .test_equivalence import _corpus

ARTICLES = [
    {"id": "acronym", "title": "KPK tangkap bupati", "body": "Penyidik KPK menangkap bupati."},
    {
        "id": "long",
        "title": "Komisi Pemberantasan Korupsi periksa menteri",
        "body": "Komisi Pemberantasan Korupsi memeriksa menteri soal suap proyek jalan.",
    },
    {
        "id": "scattered",
        "title": "Korupsi di komisi daerah",
        "body": "Komisi daerah itu diduga korupsi dana pemberantasan hama tikus.",
    },
    {"id": "car", "title": "Mobil listrik", "body": "Mobil listrik dijual murah."},
    {"id": "both", "title": "Mobil dan oto", "body": "Mobil atau oto, sama saja."},
    {"id": "other", "title": "Harga beras naik", "body": "Harga beras naik di pasar."},
]
RULES = "kpk, komisi pemberantasan korupsi\nmobil, oto\njokowi => joko widodo\n"


@pytest.fixture
def index(tmp_path):
    with searchlib.Index.create(tmp_path / "ix", synonyms=Synonyms.parse(RULES)) as ix:
        ix.add(ARTICLES)
        yield ix


# -- the rules ---------------------------------------------------------------------------


def test_solr_format_equivalences_one_way_rules_comments_and_escaped_commas():
    rules = Synonyms.parse(
        "# a comment\n\nkpk, Komisi  Pemberantasan Korupsi\na, b => c\nRp1\\,5, satu koma lima\n"
    )
    assert [r.equivalent for r in rules] == [True, False, True]
    assert rules.rules[0].inputs == ("kpk", "Komisi Pemberantasan Korupsi")
    assert rules.rules[1] == SynonymRule(("a", "b"), ("c",))
    assert rules.rules[2].inputs == ("Rp1,5", "satu koma lima")
    assert Synonyms.parse(rules.to_text()) == rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kpk\n", "line 1.*one entry"),
        ("ok, fine\na => b => c\n", "line 2.*more than one '=>'"),
        ("a =>\n", "both sides"),
        ("x, " + " ".join(["kata"] * 9) + "\n", "longer than 8 words"),
        (", ".join(f"kata{n}" for n in range(65)) + "\n", "more than 64 entries"),
    ],
)
def test_a_bad_rule_names_its_line(text, message):
    with pytest.raises(SynonymError, match=message):
        Synonyms.parse(text, source="mine.txt")


def test_a_missing_or_binary_file_is_a_synonym_error(tmp_path):
    with pytest.raises(SynonymError, match="cannot read"):
        Synonyms.read(tmp_path / "missing.txt")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SynonymError, match="cannot read"):
        Synonyms.read(tmp_path / "binary.txt")


ENTRY = st.text(alphabet="abcdeklmnoprstu ", min_size=1, max_size=20).map(str.strip).filter(bool)


@given(st.lists(st.lists(ENTRY, min_size=2, max_size=4, unique=True), max_size=6))
def test_rules_survive_text_and_data(groups):
    rules = Synonyms(SynonymRule(tuple(g), tuple(g)) for g in groups)
    normalized = Synonyms.parse(rules.to_text())
    assert Synonyms.from_data(json.loads(json.dumps(normalized.to_data()))) == normalized


@pytest.mark.parametrize("data", [{"in": ["a"]}, [{"in": []}], [{"in": ["a", 3]}], ["a, b"]])
def test_data_that_is_not_rules_is_refused(data):
    with pytest.raises(SynonymError):
        Synonyms.from_data(data)


def test_the_shipped_list_names_the_acronyms_news_uses():
    shipped = Synonyms.default()
    table = SynonymTable(shipped, searchlib.Analyzer())
    assert len(shipped) > 100
    for acronym, long_form in [
        ("kpk", "komisi pemberantasan korupsi"),
        ("dpr", "dewan perwakilan rakyat"),
        ("tni", "tentara nasional indonesia"),
        ("polri", "kepolisian negara republik indonesia"),
        ("umkm", "usaha mikro kecil dan menengah"),
        ("bmkg", "badan meteorologi klimatologi dan geofisika"),
    ]:
        assert long_form in table.match([acronym], 0)[1]
        words = table.words(long_form)
        assert acronym in table.match(list(words), 0)[1]


# -- searching ---------------------------------------------------------------------------


def test_an_acronym_finds_its_long_form_and_the_reverse(index):
    assert set(index.search("KPK").ids()) == {"acronym", "long"}
    assert {"acronym", "long"} <= set(index.search("komisi pemberantasan korupsi").ids())
    assert index.search("KPK", synonyms=False).ids() == ["acronym"]


def test_a_long_form_is_searched_as_a_phrase(index):
    # "scattered" holds komisi, pemberantasan and korupsi, never together.
    assert "scattered" not in index.search("KPK").ids()


def test_the_expansion_is_one_clause_that_does_not_inflate(index):
    results = index.search("KPK", explain=True)
    assert results.synonyms == {"KPK": ["kpk", "komisi pemberantasan korupsi"]}
    by_id = {hit.id: hit for hit in results}
    # The long form scores within the typed word's range, not as three words.
    assert by_id["long"].score <= by_id["acronym"].score * 1.5
    plan = compile_query(
        parse_query("kpk menteri"),
        index._engine.snapshot(),
        index.analyzer,
        searchlib.Ranking(),
        synonyms=index._synonym_table(index._engine.snapshot()),
    )
    assert plan.root is not None and len(plan.root.should) == 2  # kpk-or-long, menteri
    assert isinstance(plan.root.should[0], AnyOfPlan)
    # With coordination both match two clauses: the long form is not a lesser match.
    assert index.search("kpk menteri").ids()[0] == "long"


def test_one_word_synonyms_are_one_term_with_frequencies_summed(index):
    hit = {h.id: h for h in index.search("mobil", explain=True)}["both"]
    (term,) = hit.explanation  # one clause: mobil and oto in one saturation
    assert term.field_tf["title"] == 1 and term.field_tf["title:oto"] == 1
    two_words = {h.id: h for h in index.search("mobil oto", synonyms=False)}["both"]
    assert hit.score < two_words.score  # two separate clauses would score more
    assert set(index.search("oto").ids()) == {"car", "both"}


def test_one_way_rules_and_negation(index):
    assert index.search("jokowi").synonyms == {"jokowi": ["joko widodo"]}
    assert "jokowi" not in index.search("joko widodo").synonyms
    assert index.search("-kpk korupsi").ids() == ["scattered"]


def test_snippets_mark_the_form_the_article_uses(index):
    hit = {h.id: h for h in index.search("KPK")}["long"]
    assert hit.title_snippet.html().startswith("<mark>Komisi Pemberantasan Korupsi</mark>")
    assert "<mark>Komisi Pemberantasan Korupsi</mark>" in hit.snippet.html()


def test_results_and_json_say_what_was_expanded(index):
    data = index.search("kpk").to_dict()
    assert data["synonyms"] == {"kpk": ["kpk", "komisi pemberantasan korupsi"]}
    assert index.search("beras").to_dict()["synonyms"] == {}


def test_pruned_pages_with_synonyms_are_the_exhaustive_pages(tmp_path):
    docs = _corpus(300)
    words = sorted({w for d in docs for w in d["body"].split()})
    rng = random.Random(3)
    lines = [f"{a}, {b} {c}" for a, b, c in (rng.sample(words, 3) for _ in range(40))]
    with searchlib.Index.create(tmp_path / "ix", workers=1) as ix:
        ix.add(docs)
        ix.set_synonyms(Synonyms.parse("\n".join(lines)))
        snapshot = ix._engine.snapshot()
        table = ix._synonym_table(snapshot)
        expanded = 0
        for coordination in (True, False):
            ranking = searchlib.Ranking(coordination=coordination)
            for _ in range(80):
                text = " ".join(rng.sample(words, rng.choice((1, 2, 3))))
                plan = compile_query(parse_query(text), snapshot, ix.analyzer, ranking, (), table)
                if plan.root is None:
                    continue
                expanded += bool(plan.synonyms)
                pruned = execute(plan.root, snapshot, ranking, 10)
                full = execute(plan.root, snapshot, ranking, 10, prune=False)
                assert pruned.top.tolist() == full.top.tolist(), text
                np.testing.assert_allclose(pruned.top_scores, full.top_scores, rtol=1e-12)
        assert expanded > 10


# -- where they are kept -----------------------------------------------------------------


def test_an_index_starts_with_the_shipped_list_and_keeps_changes(tmp_path):
    path = tmp_path / "ix"
    with searchlib.Index.create(path) as ix:
        assert ix.synonyms == Synonyms.default()
        ix.set_synonyms(Synonyms.parse("gempa, lindu"))
    with searchlib.Index.open(path) as ix:
        assert ix.synonyms.to_text() == "gempa, lindu\n"
        ix.set_synonyms(Synonyms())
        assert len(ix.synonyms) == 0
        ix.set_synonyms(None)
        assert ix.synonyms == Synonyms.default()
    with searchlib.Index.create(tmp_path / "none", synonyms=Synonyms()) as ix:
        assert len(ix.synonyms) == 0


def test_another_open_index_sees_new_synonyms_without_reindexing(tmp_path, index):
    with searchlib.Index.open(index.path) as reader:
        assert set(reader.search("KPK").ids()) == {"acronym", "long"}
        index.set_synonyms(Synonyms())
        assert reader.search("KPK").ids() == ["acronym"]


def test_set_synonyms_refuses_what_is_not_synonyms(index):
    with pytest.raises(SynonymError, match="Synonyms"):
        index.set_synonyms("kpk, komisi")  # type: ignore[arg-type]
    assert len(index.synonyms) == 3


def test_crafted_synonyms_in_a_commit_are_refused(index):
    index.wait_for_merges()  # nothing reads the commit while it is rewritten
    generation = index._engine.snapshot().generation
    path = index.path / f"commit.{generation}.json"
    body = load_checked_json(path, path.read_bytes())
    body["extra"]["synonyms"] = [{"in": "not a list"}]
    path.write_bytes(dump_checked_json(body))  # a valid checksum: crafted, not damaged
    with searchlib.Index.open(index.path) as crafted, pytest.raises(IndexCorruptError):
        crafted.search("kpk")


# -- shells ------------------------------------------------------------------------------


def test_cli_keeps_lists_replaces_and_turns_off_synonyms(tmp_path):
    runner = CliRunner()
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n", "utf-8")
    rules = tmp_path / "rules.txt"
    rules.write_text(RULES, "utf-8")
    ix = str(tmp_path / "ix")
    made = runner.invoke(cli, ["--index", ix, "index", "--synonyms", str(rules), str(corpus)])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli, ["--index", ix, "synonyms"])
    assert listed.exit_code == 0 and listed.output.splitlines()[1:] == RULES.splitlines()
    explained = runner.invoke(cli, ["--index", ix, "KPK", "--explain"])
    assert "synonyms: KPK -> kpk | komisi pemberantasan korupsi" in explained.output
    assert "Komisi Pemberantasan Korupsi" in explained.output
    off = runner.invoke(cli, ["--index", ix, "KPK", "--no-synonyms", "--json"])
    assert [h["id"] for h in json.loads(off.output)["hits"]] == ["acronym"]
    assert runner.invoke(cli, ["--index", ix, "synonyms", "--off"]).exit_code == 0
    assert "# 0 synonym rules" in runner.invoke(cli, ["--index", ix, "synonyms"]).output
    bad = tmp_path / "bad.txt"
    bad.write_text("kpk\n", "utf-8")
    refused = runner.invoke(cli, ["--index", ix, "synonyms", "--set", str(bad)])
    assert refused.exit_code == 1 and "line 1" in refused.output and "hint:" in refused.output
    restored = runner.invoke(cli, ["--index", ix, "synonyms", "--default"])
    assert restored.output.startswith(f"# {len(Synonyms.default())} synonym rules")


def test_http_lists_synonyms_and_search_can_skip_them(index):
    from starlette.testclient import TestClient

    from searchlib.server import create_app

    with TestClient(create_app(index)) as client:
        listed = client.get("/synonyms").json()
        assert listed["count"] == 3 and listed["rules"][2] == {
            "in": ["jokowi"],
            "out": ["joko widodo"],
        }
        found = client.get("/search", params={"q": "kpk"}).json()
        assert {h["id"] for h in found["hits"]} == {"acronym", "long"}
        assert found["synonyms"] == {"kpk": ["kpk", "komisi pemberantasan korupsi"]}
        typed = client.get("/search", params={"q": "kpk", "synonyms": "false"}).json()
        assert [h["id"] for h in typed["hits"]] == ["acronym"]
        assert client.get("/search", params={"q": "kpk", "synonyms": "maybe"}).status_code == 400


def test_a_typed_acronym_the_index_lacks_still_scores_its_long_form(tmp_path):
    with searchlib.Index.create(tmp_path / "ix", synonyms=Synonyms.parse(RULES)) as ix:
        ix.add([a for a in ARTICLES if a["id"] != "acronym"])
        (hit,) = ix.search("KPK")
        assert hit.id == "long" and hit.score > 0
