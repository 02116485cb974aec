"""Property-based tests of the analyzer on arbitrary unicode (Hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib.analysis import Analyzer

ANALYZER = Analyzer()

# Plain unicode plus the hard cases: emoji, combining marks, RTL, controls, hyphens.
_pieces = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "😀",
            "🇮🇩",
            "👍🏽",
            "e\u0301",
            "\u202e",
            "\u200f",
            "مرحبا",
            "שלום",
            "\x00",
            "\x1b[31m",
            "-",
            "--",
            "negara-negara",
            "Covid-19",
            "31/8",
            "Rp1.500.000",
            "jpnn.com",
            "Membangun",
            "𠀋",
            "\ufeff",
            " ",
        ]
    ),
)
texts = st.lists(_pieces, max_size=30).map("".join)


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(texts)
def test_tokens_are_well_formed(text):
    tokens = ANALYZER.analyze(text)
    previous = -1
    for token in tokens:
        assert text[token.start : token.end] == token.text
        assert token.term
        if token.primary:
            assert token.position > previous
            previous = token.position
        else:
            assert token.position == previous


@settings(max_examples=100, deadline=None)
@given(texts)
def test_explain_never_raises_and_keeps_offsets(text):
    for token in ANALYZER.explain(text):
        assert text[token.start : token.end] == token.text


@settings(max_examples=5, deadline=None)
@given(st.text(min_size=1, max_size=5))
def test_very_long_strings(word):
    text = (word + " Pembangunan ") * 20_000
    tokens = ANALYZER.analyze(text)
    assert tokens[-1].end <= len(text)
    assert text[tokens[-1].start : tokens[-1].end] == tokens[-1].text


@settings(max_examples=200, deadline=None)
@given(texts)
def test_analysis_is_deterministic_and_cache_independent(text):
    fresh = Analyzer()
    assert [(t.term, t.start, t.end) for t in fresh.analyze(text)] == [
        (t.term, t.start, t.end) for t in ANALYZER.analyze(text)
    ]


_words = st.lists(
    st.sampled_from(
        ["Membangun", "membangun", "bangunan", "e-KTP", "KTP", "ktp-ktp", "Covid-19", "19",
         "negara-negara", "Negara", "yang", "di", "Rp1.500", "1.500", "pasca-Soviet", "soviet"]
    ) | _pieces,
    max_size=40,
).map(" ".join)  # fmt: skip


@given(st.one_of(texts, _words))
def test_index_text_groups_the_tokens_positions(text):
    # The indexing fast path must say exactly what the tokens say.
    expected_terms: dict[str, list[int]] = {}
    expected_norms: dict[str, list[int]] = {}
    for token in ANALYZER.analyze(text):
        expected_terms.setdefault(token.term, []).append(token.position)
        expected_norms.setdefault(token.norm or token.term, []).append(token.position)
    analyzed = ANALYZER.index_text(text)
    assert analyzed == text
    assert analyzed.terms == {k: sorted(v) for k, v in expected_terms.items()}
    assert analyzed.norms == {k: sorted(v) for k, v in expected_norms.items()}
    assert analyzed.length == sum(token.primary for token in ANALYZER.analyze(text))


@given(st.one_of(texts, _words))
def test_spans_say_what_the_tokens_say(text):
    assert ANALYZER.spans(text) == [
        (t.start, t.end, t.term, t.norm, t.position, t.primary) for t in ANALYZER.analyze(text)
    ]


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(texts)
def test_norms_skip_stemming_but_agree_with_analysis(text):
    # Synonym entries are read by `norms` (no stemmer): the same normalized words the
    # full analysis gives its primary tokens, whether or not the words were seen before.
    fresh = Analyzer()
    unstemmed = fresh.norms(text)
    assert unstemmed == [t.norm for t in fresh.analyze(text) if t.primary]
    assert fresh.norms(text) == unstemmed  # now from the analysis's memo
