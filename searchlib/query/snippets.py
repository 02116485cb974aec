"""Snippets: choose the best fragments of a stored text and the spans to highlight.

A ``Snippet`` is data - the fragment text and the highlighted ``(start, end)`` spans in
it - with separate renderers: ``html()`` (escaped, ``<mark>``), ``ansi()`` and
``text(marker)``. ``make_snippet`` analyzes the original text with the index's analyzer,
so every surface form whose term matches a query term is found (``bangun`` marks
*membangun*, *pembangunan*, *dibangun*) and a phrase is one span. Long texts are analyzed
in chunks until the query's words are found, so a match deep in a long article still
yields a snippet and a short match does not pay for the whole text.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from searchlib.analysis import Analyzer
from searchlib.query.plan import Highlight

__all__ = ["Snippet", "clean_text", "highlight_title", "make_snippet"]

ELLIPSIS = "\u2026"
_CHUNK = 20_000
MAX_WINDOWS = 4  # passages around query words analyzed per field, richest first
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)]*\s+|\n+")


def clean_text(text: str) -> str:
    """Replace control and bidi-override characters with spaces (lengths unchanged)."""
    return _CONTROL.sub(" ", text)


@dataclass(frozen=True)
class Snippet:
    """Fragment text plus highlighted spans; render with ``html``, ``ansi`` or ``text``."""

    fragment: str
    spans: tuple[tuple[int, int], ...]
    field: str = "body"

    def _render(self, before: str, after: str, escape: Callable[[str], str] = lambda s: s) -> str:
        out, cursor = [], 0
        for start, end in self.spans:
            out.append(escape(self.fragment[cursor:start]))
            out.append(before + escape(self.fragment[start:end]) + after)
            cursor = end
        out.append(escape(self.fragment[cursor:]))
        return "".join(out)

    def html(self, tag: str = "mark") -> str:
        """HTML with every piece of text escaped and matches in ``<mark>``."""
        if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9]*", tag):
            raise ValueError(f"not an HTML tag name: {tag!r}")
        return self._render(f"<{tag}>", f"</{tag}>", lambda s: html_lib.escape(s, quote=True))

    def ansi(self, style: str = "\x1b[1;33m", reset: str = "\x1b[0m") -> str:
        """Terminal text with matches in ``style`` (bold yellow by default)."""
        return self._render(style, reset)

    def text(self, marker: str | tuple[str, str] = "**") -> str:
        """Plain text with matches wrapped in ``marker`` (or a ``(before, after)`` pair)."""
        before, after = (marker, marker) if isinstance(marker, str) else marker
        return self._render(before, after)

    def __str__(self) -> str:
        return self.fragment


@dataclass
class _Match:
    start: int
    end: int
    key: str  # what matched: a term, or a phrase


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split at whitespace into pieces of about _CHUNK characters."""
    start = 0
    while start < len(text):
        end = min(len(text), start + _CHUNK)
        if end < len(text):
            space = text.rfind(" ", start + _CHUNK // 2, end)
            end = space + 1 if space > start else end
        yield start, text[start:end]
        start = end


def _find_matches(
    spans: list[tuple[int, int, str, str, int, bool]], spec: Highlight, base: int
) -> list[_Match]:
    """Marks for the analyzer's ``spans`` of a passage that starts at ``base``."""
    matches: list[_Match] = []
    covered: set[int] = set()
    if spec.phrases:
        primary = [span for span in spans if span[5]]
        for phrase in spec.phrases:
            for i, span in enumerate(primary):
                if span[2] != phrase[0]:
                    continue
                run = [span]
                for word in phrase[1:]:
                    j = i + len(run)
                    if j >= len(primary) or primary[j][2] != word:
                        break
                    run.append(primary[j])
                if len(run) == len(phrase):
                    key = " ".join(phrase)
                    matches.append(_Match(base + run[0][0], base + run[-1][1], key))
                    covered.update(range(run[0][0], run[-1][1]))
    terms, norms = spec.terms, spec.norms
    for start, end, term, norm, _position, _primary in spans:
        if term in terms:
            key = term
        elif norm and norm in norms:
            key = norm
        else:
            continue
        if start not in covered:
            matches.append(_Match(base + start, base + end, key))
    matches.sort(key=lambda m: (m.start, -(m.end - m.start)))
    merged: list[_Match] = []
    for match in matches:
        if merged and match.start < merged[-1].end:
            continue  # a compound's part inside an already marked compound
        merged.append(match)
    return merged


def _needles(analyzer: Analyzer, spec: Highlight) -> set[str]:
    """Lowercase strings that occur in every surface form of the wanted terms.

    Indonesian affixes wrap the stem, and a nasal prefix replaces at most its first
    letter (memukul -> pukul), so all of a stem but its first letter is in the surface
    form. Words mapped by the colloquial map or a stem exclusion are added as they are.
    """
    terms = set(spec.terms) | {word for phrase in spec.phrases for word in phrase}
    needles = {n for n in spec.norms if n}
    for term in terms:
        needles.add(term[1:] if len(term) > 3 else term)
    for target in terms | spec.norms:
        needles.update(analyzer.sources_of(target))
    return {needle.lower() for needle in needles if needle}


def _candidate_windows(text: str, needles: set[str], pad: int = 80) -> list[tuple[int, int]] | None:
    """Spans of ``text`` around every occurrence of a needle, at whitespace, the ones
    with the most different needles first; None when a scan cannot be trusted
    (lowercasing changed the length) or would cover it all."""
    lowered = text.lower()
    if len(lowered) != len(text):
        return None
    spans: list[tuple[int, int, str]] = []
    for needle in needles:
        start = lowered.find(needle)
        while start >= 0:
            spans.append((max(0, start - pad), min(len(text), start + len(needle) + pad), needle))
            if len(spans) > 4000:
                return None
            start = lowered.find(needle, start + 1)
    spans.sort()
    merged: list[tuple[int, int, set[str]]] = []
    for start, end, needle in spans:
        if start > 0:
            space = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start))
            start = space + 1 if space >= 0 else 0
        space = min(
            (p for p in (text.find(" ", end), text.find("\n", end)) if p >= 0), default=len(text)
        )
        end = space
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), merged[-1][2] | {needle})
        else:
            merged.append((start, end, {needle}))
    merged.sort(key=lambda window: (-len(window[2]), window[0]))
    return [(start, end) for start, end, _found in merged]


def _collect(text: str, analyzer: Analyzer, spec: Highlight) -> list[_Match]:
    windows = _candidate_windows(text, _needles(analyzer, spec))
    matches: list[_Match] = []
    wanted = len(spec.terms) + len(spec.phrases)
    if windows is not None:
        # Richest windows first; a few are plenty to choose the fragments from.
        for start, end in windows[:MAX_WINDOWS]:
            found = _find_matches(analyzer.spans(text[start:end]), spec, start)
            matches.extend(found)
            if len({m.key for m in matches}) >= wanted:
                break  # every query word is shown: no other window can add one
        matches.sort(key=lambda m: m.start)
        return matches
    for base, chunk in _chunks(text):
        matches.extend(_find_matches(analyzer.spans(chunk), spec, base))
        if len({m.key for m in matches}) >= wanted:
            break
    return matches


def _window(text: str, match: _Match, size: int) -> tuple[int, int]:
    """A window of about ``size`` characters around a match, at sentence or word edges."""
    lead = max(0, (size - (match.end - match.start)) // 3)
    start = max(0, match.start - lead)
    search_from = max(0, match.start - size // 2)
    sentence_start = max(
        (m.end() for m in _SENTENCE_END.finditer(text, search_from, match.start)), default=None
    )
    if sentence_start is not None and sentence_start <= match.start:
        start = sentence_start
    elif start > 0:
        space = text.find(" ", start, match.start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), max(start + size, match.end))
    if end < len(text):
        sentence_end = _SENTENCE_END.search(text, match.end, end + 40)
        if sentence_end is not None and sentence_end.start() + 1 >= start + size * 2 // 3:
            end = sentence_end.start() + 1
        else:
            space = text.rfind(" ", match.end, end)
            end = space if space > match.end else end
    return start, end


def _choose(text: str, matches: list[_Match], size: int, count: int) -> list[tuple[int, int]]:
    candidates = []
    for match in matches:
        start, end = _window(text, match, size)
        inside = [m for m in matches if m.start >= start and m.end <= end]
        candidates.append(((len({m.key for m in inside}), len(inside), -start), start, end, inside))
    candidates.sort(key=lambda c: c[0], reverse=True)
    chosen: list[tuple[int, int]] = []
    seen: set[str] = set()
    for _score, start, end, inside in candidates:
        if len(chosen) >= count:
            break
        if any(start < c_end and c_start < end for c_start, c_end in chosen):
            continue
        keys = {m.key for m in inside}
        if chosen and keys <= seen:
            continue  # another fragment must show something new
        chosen.append((start, end))
        seen |= keys
    return sorted(chosen)


def _assemble(
    text: str, windows: list[tuple[int, int]], matches: list[_Match], field: str
) -> Snippet:
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    for index, (start, end) in enumerate(windows):
        starts_clean = start == 0 or text[start - 1] == "\n" or _ends_sentence(text[:start])
        prefix = "" if starts_clean and index == 0 else (" " if index else "") + ELLIPSIS + " "
        if index and starts_clean:
            prefix = " " + ELLIPSIS + " "
        body = text[start:end]
        strip = len(body) - len(body.lstrip())
        body = body.strip()
        parts.append(prefix + body)
        offset = length + len(prefix) - start - strip
        for match in matches:
            if match.start >= start and match.end <= end:
                spans.append((match.start + offset, match.end + offset))
        length += len(prefix) + len(body)
    if windows and windows[-1][1] < len(text) and not _ends_sentence(text[: windows[-1][1]]):
        parts.append(" " + ELLIPSIS)
    return Snippet(clean_text("".join(parts)), tuple(spans), field)


def _ends_sentence(prefix: str) -> bool:
    stripped = prefix.rstrip()
    return not stripped or stripped[-1] in ".!?\u2026\"'\u201d"


def make_snippet(
    fields: dict[str, str],
    analyzer: Analyzer,
    spec: Highlight,
    *,
    size: int = 160,
    fragments: int = 3,
) -> Snippet:
    """The best 1-``fragments`` fragments of the body (else the title) for ``spec``."""
    body = fields.get("body") or ""
    for name in ("body", "title"):
        text = fields.get(name) or ""
        if not text or not (spec.terms or spec.phrases):
            continue
        matches = _collect(text, analyzer, spec)
        if matches:
            windows = _choose(text, matches, size, fragments)
            return _assemble(text, windows, matches, name)
    if not body:
        return Snippet(clean_text(fields.get("title") or ""), (), "title")
    end = len(body) if len(body) <= size else max(body.rfind(" ", 0, size), size // 2)
    tail = "" if end >= len(body) else " " + ELLIPSIS
    return Snippet(clean_text(body[:end].strip() + tail), (), "body")


def highlight_title(title: str, analyzer: Analyzer, spec: Highlight) -> Snippet:
    """The whole title with the spans of the query's words (a title is short)."""
    if not title or not (spec.terms or spec.phrases):
        return Snippet(clean_text(title or ""), (), "title")
    matches = _collect(title, analyzer, spec)
    spans = tuple((m.start, m.end) for m in matches)
    return Snippet(clean_text(title), spans, "title")
