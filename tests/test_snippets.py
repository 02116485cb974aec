"""Snippets: exact fragments and spans, renderers, escaping, long texts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from searchlib import Analyzer, Index, Snippet
from searchlib.query.plan import Highlight
from searchlib.query.snippets import make_snippet

ANALYZER = Analyzer()


def _snippet(body: str, terms=(), phrases=(), title: str = "", **kwargs) -> Snippet:
    spec = Highlight(set(terms), set(), [tuple(p) for p in phrases])
    return make_snippet({"title": title, "body": body}, ANALYZER, spec, **kwargs)


def test_every_affixed_form_of_a_stem_is_marked():
    snippet = _snippet("Pemerintah membangun jalan. Pembangunan itu dibangun cepat.", {"bangun"})
    assert snippet.text() == (
        "Pemerintah **membangun** jalan. **Pembangunan** itu **dibangun** cepat."
    )


def test_phrase_is_one_span():
    snippet = _snippet(
        "Kedutaan mengerahkan penerbangan evakuasi tambahan.", phrases=[("terbang", "evakuasi")]
    )
    assert snippet.spans == ((21, 41),)
    assert snippet.fragment[21:41] == "penerbangan evakuasi"


def test_renderers():
    snippet = Snippet("a <b> & c", ((2, 5),))
    assert snippet.html() == "a <mark>&lt;b&gt;</mark> &amp; c"
    assert snippet.text() == "a **<b>** & c"
    assert snippet.text(("[", "]")) == "a [<b>] & c"
    assert snippet.ansi() == "a \x1b[1;33m<b>\x1b[0m & c"
    assert str(snippet) == "a <b> & c"


def test_fragment_is_cut_at_words_with_ellipsis():
    body = (
        "Kalimat pembuka yang panjang sekali tanpa kata kunci apa pun di dalamnya. " * 5
        + "Di tengah berita ada gempa yang mengguncang kota itu pada malam hari. "
        + "Kalimat penutup yang panjang sekali tanpa kata kunci apa pun. " * 5
    )
    snippet = _snippet(body, {"gempa"})
    assert snippet.fragment.startswith("Di tengah berita ada gempa")
    assert snippet.fragment.endswith("…")
    assert len(snippet.fragment) <= 200
    start, end = snippet.spans[0]
    assert snippet.fragment[start:end] == "gempa"


def test_up_to_three_fragments_for_different_words():
    filler = "Kalimat pengisi tanpa kata kunci sama sekali di sini. " * 8
    body = f"Gempa besar terjadi. {filler}Warga mengungsi ke bukit. {filler}Tsunami tidak terjadi."
    snippet = _snippet(body, {"gempa", "ungsi", "tsunami"})
    assert snippet.fragment.count("…") >= 2
    marked = [snippet.fragment[s:e] for s, e in snippet.spans]
    assert marked == ["Gempa", "mengungsi", "Tsunami"]


def test_match_deep_in_a_long_article():
    body = "kalimat pengisi biasa. " * 5000 + "Akhirnya jembatan selesai dibangun."
    assert len(body) > 100_000
    snippet = _snippet(body, {"jembatan"})
    assert snippet.text().startswith("Akhirnya **jembatan**")


def test_title_used_when_body_has_no_match():
    snippet = _snippet("isi tanpa kata", {"gempa"}, title="Gempa di Maluku")
    assert snippet.field == "title" and snippet.text() == "**Gempa** di Maluku"


def test_no_match_gives_the_opening_without_spans():
    snippet = _snippet("Isi berita " * 40, {"gempa"})
    assert snippet.spans == () and snippet.fragment.endswith("…")


def test_html_cannot_be_injected_from_an_article(tmp_path):
    with Index.create(tmp_path / "ix") as ix:
        ix.add({"id": "x", "body": "Serangan <script>alert('gempa')</script> gempa <img>"})
        html = ix.search("gempa")[0].snippet.html()
    assert "<script>" not in html and "<img>" not in html
    assert "&lt;script&gt;" in html and "<mark>gempa</mark>" in html


def test_control_characters_are_removed_from_snippets():
    snippet = _snippet("gempa \x1b[31mmerah\x1b[0m \u202eterbalik", {"gempa"})
    assert "\x1b" not in snippet.fragment and "\u202e" not in snippet.fragment


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["bangun", "gempa", "a", "kabul"]))
def test_spans_are_always_inside_the_fragment_and_ordered(body, term):
    snippet = _snippet(body + " gempa membangun", {term})
    previous_end = 0
    for start, end in snippet.spans:
        assert previous_end <= start < end <= len(snippet.fragment)
        previous_end = end
    assert "<" not in snippet.html().replace("<mark>", "").replace("</mark>", "")
