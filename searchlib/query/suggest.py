"""'Did you mean': replace rare or unknown query words with a common close index word.

A word is a candidate for correction when its exact form occurs in fewer than
``RARE_DOCS`` documents; the replacement is the most frequent indexed word within one
edit (two for words longer than seven letters), and only if it occurs in at least
``MIN_FACTOR`` times as many documents (and in ``MIN_DOCS`` at least).

Candidates come from a symmetric-delete index (as in SymSpell) over the common words
of the index, built once per snapshot on first use: every word and every word with one
letter deleted point back to the word. A query word's own one-letter deletions are
looked up there, which finds every word within one edit (and most within two), and
each candidate is then checked with the true Damerau-Levenshtein distance.
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from searchlib.engine import EXACT, Snapshot
from searchlib.query.plan import Plan

__all__ = ["edit_distance", "suggest"]

RARE_DOCS = 2
MIN_FACTOR = 5
MIN_DOCS = 2
_lock = threading.Lock()
# One vocabulary per snapshot, built on first use and dropped with the snapshot.
_VOCABULARIES: WeakKeyDictionary = WeakKeyDictionary()


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[-1], limit)


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class _Vocabulary:
    """Common exact-form words with document counts, and their one-delete index."""

    def __init__(self, snapshot: Snapshot) -> None:
        counts: dict[str, int] = {}
        for name in ("title", "body"):
            for word, count in snapshot.term_doc_frequencies(EXACT[name], MIN_DOCS).items():
                counts[word] = max(counts.get(word, 0), count)
        self.counts = counts
        self.deletes: dict[str, list[str]] = {}
        for word in counts:
            if len(word) >= 3 and word.isalpha():
                for variant in (word, *_deletes(word)):
                    self.deletes.setdefault(variant, []).append(word)

    def candidates(self, word: str) -> set[str]:
        found: set[str] = set()
        for variant in (word, *_deletes(word)):
            found.update(self.deletes.get(variant, ()))
        return found


def _vocabulary(snapshot: Snapshot) -> _Vocabulary:
    with _lock:
        vocabulary = _VOCABULARIES.get(snapshot)
        if vocabulary is None:
            vocabulary = _VOCABULARIES[snapshot] = _Vocabulary(snapshot)
        return vocabulary


def _frequency(snapshot: Snapshot, norm: str) -> int:
    return max(snapshot.document_frequency(EXACT[name], norm) for name in ("title", "body"))


def suggest(snapshot: Snapshot, plan: Plan, text: str) -> str | None:
    """The corrected query string, or None when every word looks fine."""
    replacements: list[tuple[int, int, str]] = []
    for word, norm in plan.words:
        if len(norm) < 4 or not any(c.isalpha() for c in norm):
            continue
        seen = _frequency(snapshot, norm)
        if seen >= RARE_DOCS:
            continue
        vocabulary = _vocabulary(snapshot)
        limit = 1 if len(norm) <= 7 else 2
        best, best_key = None, None
        floor = max(MIN_DOCS, MIN_FACTOR * max(seen, 1))
        for candidate in vocabulary.candidates(norm):
            count = vocabulary.counts[candidate]
            if candidate == norm or count < floor:
                continue
            distance = edit_distance(norm, candidate, limit + 1)
            if distance > limit:
                continue
            key = (distance, -count, candidate)
            if best_key is None or key < best_key:
                best, best_key = candidate, key
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
