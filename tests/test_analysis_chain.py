"""The analyzer as a chain of named steps: order, insert/remove/replace, stored with the
index, the stem cache object, and the stopword policy that indexes every word."""

from __future__ import annotations

import json
import pickle

import pytest
from click.testing import CliRunner

from searchlib import Analyzer, Index
from searchlib.analysis import (
    CompoundParts,
    Normalize,
    Stem,
    StemCache,
    Step,
    Stopwords,
    Word,
    default_steps,
    register_step,
)
from searchlib.analysis.registry import _REGISTRY
from searchlib.cli import cli
from searchlib.errors import AnalyzerError, SearchlibError


@register_step
class AsciiFold(Step):
    """A user's step: folds a few accented letters (registered, so an index stores it)."""

    name = "ascii_fold"

    def apply(self, word: Word, chain) -> Word | None:
        folded = word.norm.translate(str.maketrans("éèà", "eea"))
        word.norm = word.term = folded
        return word


def test_the_default_chain_in_order():
    assert Analyzer().names == (
        "normalize",
        "colloquial",
        "stopwords",
        "stem_guard",
        "stem",
        "compound_parts",
    )
    assert Analyzer(stemming=False).names == Analyzer().remove("stem").names


def test_remove_replace_and_insert_make_new_analyzers():
    base = Analyzer()
    unstemmed = base.remove("stem")
    assert [t.term for t in unstemmed.analyze("membangun")] == ["membangun"]
    assert [t.term for t in base.analyze("membangun")] == ["bangun"]  # base unchanged
    assert unstemmed == Analyzer(stemming=False)
    no_kabul = base.replace("stopwords", Stopwords(frozenset({"kabul"})))
    assert [t.term for t in no_kabul.analyze("evakuasi di Kabul")] == ["evakuasi", "di"]
    folded = base.insert(AsciiFold(), after="normalize")
    assert folded.names[1] == "ascii_fold"
    assert [t.term for t in folded.analyze("Café")] == ["cafe"]


def test_bad_chains_are_refused_with_the_bad_value():
    with pytest.raises(AnalyzerError, match="'stemmer'"):
        Analyzer().remove("stemmer")
    with pytest.raises(AnalyzerError, match="normalize"):
        Analyzer().insert(Normalize(), after="stem")
    with pytest.raises(AnalyzerError, match="not an analysis step"):
        Analyzer([Normalize(), "stem"])  # type: ignore[list-item]
    with pytest.raises(AnalyzerError, match="stopwords"):
        Analyzer([Normalize()], stopwords=["x"])
    with pytest.raises(AnalyzerError, match="mode"):
        Stopwords(frozenset(), mode="sometimes")
    with pytest.raises(TypeError, match="stemmer"):
        Analyzer(stemmer=True)  # type: ignore[call-arg]
    assert issubclass(AnalyzerError, SearchlibError)


def test_a_custom_chain_is_stored_with_the_index(tmp_path):
    analyzer = Analyzer().insert(AsciiFold(), after="normalize")
    with Index.create(tmp_path / "ix", analyzer=analyzer) as ix:
        ix.add([{"id": "1", "body": "Café baru di Bandung"}])
    with Index.open(tmp_path / "ix") as ix:
        assert ix.analyzer == analyzer
        assert ix.search("cafe").ids() == ["1"]  # the stored chain folds é


def test_an_index_naming_an_unregistered_step_fails_to_open_saying_which(tmp_path):
    analyzer = Analyzer().insert(AsciiFold(), after="normalize")
    Index.create(tmp_path / "ix", analyzer=analyzer).close()
    del _REGISTRY["ascii_fold"]
    try:
        with pytest.raises(AnalyzerError, match=r"'ascii_fold'.*not registered"):
            Index.open(tmp_path / "ix")
    finally:
        register_step(AsciiFold)
    with Index.open(tmp_path / "ix") as ix:
        assert ix.analyzer == analyzer


def test_an_unregistered_step_is_refused_before_anything_is_written(tmp_path):
    class Unregistered(Step):
        name = "unregistered"

        def apply(self, word: Word, chain) -> Word | None:
            return word

    with pytest.raises(AnalyzerError, match=r"'unregistered'.*register_step"):
        Index.create(tmp_path / "ix", analyzer=Analyzer().insert(Unregistered()))
    assert not (tmp_path / "ix").exists()


def test_the_stored_analyzer_is_data_and_builds_the_equal_chain():
    analyzer = Analyzer(stopword_mode="query", extra_stopwords=["eh"]).with_form("norm")
    data = analyzer.to_data()
    assert json.loads(json.dumps(data)) == data
    assert [s["step"] for s in data["steps"]] == list(analyzer.names)
    assert Analyzer.from_data(data) == analyzer
    assert pickle.loads(pickle.dumps(analyzer)) == analyzer  # in-process transport


def test_the_stem_cache_is_an_object_a_step_uses():
    cache = StemCache()
    analyzer = Analyzer().replace("stem", Stem(cache))
    analyzer.analyze("membangun pembangunan jembatan")
    assert cache.export()["membangun"] == "bangun" and len(cache) >= 2
    restored = pickle.loads(pickle.dumps(analyzer))  # the cache stays out of the index
    assert restored == analyzer and restored.step("stem").cache is not cache


def test_stopword_mode_query_indexes_every_word(tmp_path):
    words = ["ibu", "baru", "di"]
    docs = [
        {"id": "a", "body": "pemindahan ibu kota baru"},
        {"id": "b", "body": "kota lama di pesisir"},
        {"id": "c", "body": "ibu dan anak"},
    ]
    query_mode = Analyzer(stopwords=words, stopword_mode="query")
    with Index.create(tmp_path / "q", analyzer=query_mode) as ix:
        ix.add(docs)
        assert sorted(ix.search("ibu").ids()) == ["a", "c"]  # only stopwords: searched
        assert ix.search("ibu baru").ids()[0] == "a"
        assert sorted(ix.search("kota ibu").ids()) == ["a", "b"]  # dropped beside "kota"
        assert ix.search('"ibu kota"').ids() == ["a"]  # phrases keep them
    drop_mode = Analyzer(stopwords=words)
    with Index.create(tmp_path / "d", analyzer=drop_mode) as ix:
        ix.add(docs)
        assert ix.search("ibu").total == 0


def test_query_mode_tokens_say_they_are_stopwords():
    analyzer = Analyzer(stopwords=["yang"], stopword_mode="query")
    tokens = analyzer.analyze("pemain yang cedera")
    assert [(t.term, t.stopword) for t in tokens] == [
        ("main", False),
        ("yang", True),
        ("cedera", False),
    ]
    # The chain of default_steps with the same options is the same analyzer.
    assert Analyzer(default_steps(stopwords=["yang"], stopword_mode="query")) == analyzer
    assert isinstance(analyzer.steps[-1], CompoundParts)


def test_cli_analyze_uses_the_index_analyzer(tmp_path):
    path = tmp_path / "ix"
    with Index.create(path, analyzer=Analyzer(extra_stopwords=["kabul"])) as ix:
        ix.add([{"id": "1", "body": "evakuasi"}])
    runner = CliRunner()
    own = runner.invoke(cli, ["--index", str(path), "analyze", "--json", "Kabul"])
    default = runner.invoke(cli, ["--index", str(tmp_path / "none"), "analyze", "--json", "Kabul"])
    assert own.exit_code == 0 and default.exit_code == 0, own.output + default.output
    assert '"why": "stopword"' in own.output
    assert '"why": "stopword"' not in default.output


@register_step
class AccentFold(Step):
    """A user's normalizing step: folds accents, so it also runs on prefix words."""

    name = "accent_fold"
    normalizes = True

    def apply(self, word: Word, chain) -> Word | None:
        word.norm = word.term = word.norm.translate(str.maketrans("éèà", "eea"))
        return word


def test_prefix_and_fuzzy_words_go_through_the_chains_normalization(tmp_path):
    assert Analyzer().normalize("ＫＡＢＵＬ Évakuasi") == "kabul évakuasi"
    analyzer = Analyzer().insert(AccentFold(), after="normalize")
    assert analyzer.normalize("Café") == "cafe"
    assert Analyzer().remove("normalize").normalize("Kabul") == "Kabul"
    with Index.create(tmp_path / "ix", analyzer=analyzer) as ix:
        ix.add([{"id": "1", "body": "Kafe baru: cafeteria di Bandung"}])
        assert ix.search("CAFÉ*").ids() == ["1"]  # folded as the index was
        assert ix.search("cafétèria~1").ids() == ["1"]
