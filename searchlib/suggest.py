"""'Did you mean': replace rare or unknown query words with a common close index word.

A word is a candidate for correction when its exact form occurs in fewer than
``RARE_DOCS`` documents; the replacement is the most frequent indexed word within one
edit (two for words longer than seven letters) sharing the first letter, and only if it
occurs in at least ``MIN_FACTOR`` times as many documents.
"""

from __future__ import annotations

from searchlib.analysis import Analyzer
from searchlib.engine import EXACT, Snapshot
from searchlib.query import MUST_NOT, Bool, Node, Word

__all__ = ["suggest"]

RARE_DOCS = 2
MIN_FACTOR = 5
MIN_DOCS = 2


def _positive_words(node: Node) -> list[Word]:
    if isinstance(node, Word):
        return [node]
    if isinstance(node, Bool):
        words: list[Word] = []
        for occur, child in node.clauses:
            if occur != MUST_NOT:
                words.extend(_positive_words(child))
        return words
    return []


def _frequency(snapshot: Snapshot, norm: str) -> int:
    return sum(snapshot.raw_doc_frequency(EXACT[name], norm) for name in ("title", "body"))


def suggest(snapshot: Snapshot, analyzer: Analyzer, root: Bool, text: str) -> str | None:
    """The corrected query string, or None when every word looks fine."""
    replacements: list[tuple[int, int, str]] = []
    for word in _positive_words(root):
        tokens = [t for t in analyzer.analyze(word.text) if t.primary]
        if len(tokens) != 1 or not any(c.isalpha() for c in tokens[0].norm):
            continue
        norm = tokens[0].norm
        seen = _frequency(snapshot, norm)
        if seen >= RARE_DOCS or len(norm) < 4:
            continue
        distance = 1 if len(norm) <= 7 else 2
        best, best_count = None, max(MIN_DOCS, MIN_FACTOR * max(seen, 1))
        for name in ("body", "title"):
            for candidate in snapshot.terms_within(EXACT[name], norm, distance, 20, prefix=1):
                count = _frequency(snapshot, candidate)
                if candidate != norm and count >= best_count:
                    best, best_count = candidate, count
        if best is not None:
            start = text.find(word.text, word.position)
            if start >= 0:
                replacements.append((start, start + len(word.text), best))
    if not replacements:
        return None
    out = text
    for start, end, replacement in sorted(replacements, reverse=True):
        out = out[:start] + replacement + out[end:]
    return out
