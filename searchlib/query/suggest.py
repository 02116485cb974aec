"""'Did you mean': replace rare or unknown query words with a common close index word.

A word is a candidate for correction when its exact form occurs in fewer than
``RARE_DOCS`` documents; the replacement is the most frequent indexed word within one
edit (two for words longer than seven letters), and only if it occurs in at least
``MIN_FACTOR`` times as many documents (and in ``MIN_DOCS`` at least), or, when the
query found nothing, in more documents. On a small index one document is enough.
Distances come from rapidfuzz.

Candidates come from a symmetric-delete index (as in SymSpell) over the common words
of the index, built once per snapshot on first use: every word and every word with one
letter deleted point back to the word. A query word's own one-letter deletions are
looked up there, which finds every word within one edit (and most within two), and
each candidate is then checked with the true Damerau-Levenshtein distance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from weakref import WeakKeyDictionary

from rapidfuzz.distance import OSA

from searchlib.engine import EXACT, Snapshot
from searchlib.query.plan import Plan, is_number_or_code

__all__ = ["Evidence", "choose", "edit_distance", "suggest", "suggestion_evidence", "sum_evidence"]

RARE_DOCS = 2
MIN_FACTOR = 5
MIN_DOCS = 2
# Below this many articles every word counts as a candidate (one article is evidence).
SMALL_INDEX = 10_000
_lock = threading.Lock()
# One vocabulary per snapshot, built on first use and dropped with the snapshot.
_VOCABULARIES: WeakKeyDictionary = WeakKeyDictionary()


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at ``limit``."""
    return min(int(OSA.distance(a, b, score_cutoff=limit)), limit)


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class _Vocabulary:
    """Common exact-form words with document counts, and their one-delete index."""

    def __init__(self, snapshot: Snapshot) -> None:
        counts: dict[str, int] = {}
        self.min_docs = 1 if snapshot.doc_count < SMALL_INDEX else MIN_DOCS
        for name in ("title", "body"):
            found = snapshot.term_doc_frequencies(EXACT[name], self.min_docs)
            for word, count in found.items():
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


def _suggestible(norm: str) -> bool:
    # Numbers and codes are never "corrected".
    return len(norm) >= 4 and any(c.isalpha() for c in norm) and not is_number_or_code(norm)


def _limit(norm: str) -> int:
    return 1 if len(norm) <= 7 else 2


def _related(word: str, candidate: str) -> bool:
    """What the one-delete index finds: the two words share a one-letter deletion (or
    one is the other, or the other with a letter deleted)."""
    return bool(({word} | _deletes(word)) & ({candidate} | _deletes(candidate)))


# Per query word: (its exact-form document frequency per field, and each candidate's).
Evidence = dict[str, tuple[dict[str, int], dict[str, dict[str, int]]]]


def suggestion_evidence(snapshot: Snapshot, plan: Plan) -> Evidence:
    """What a shard knows for a cluster's suggestion: for each rare-here query word,
    its document frequencies and its candidates' (every word within reach, counted
    per field), which the client sums over the shards and chooses from as one index
    would (``choose``)."""
    out: Evidence = {}
    fields = [EXACT[name] for name in ("title", "body")]
    for _word, norm in plan.words:
        if not _suggestible(norm) or norm in out:
            continue
        seen = {field: snapshot.document_frequency(field, norm) for field in fields}
        if max(seen.values()) >= RARE_DOCS:
            out[norm] = (seen, {})  # common here: common in the sum too
            continue
        candidates: dict[str, dict[str, int]] = {}
        for field in fields:
            near = snapshot.near_counts(field, norm, _limit(norm) + 1)
            for candidate, (count, _edits) in near.items():
                if len(candidate) >= 3 and candidate.isalpha() and _related(norm, candidate):
                    candidates.setdefault(candidate, {})[field] = count
        out[norm] = (seen, candidates)
    return out


def sum_evidence(parts: list[Evidence]) -> Evidence:
    """The shards' evidence added up, field by field."""
    total: Evidence = {}
    for part in parts:
        for norm, (seen, candidates) in part.items():
            into_seen, into_candidates = total.setdefault(norm, ({}, {}))
            for field, count in seen.items():
                into_seen[field] = into_seen.get(field, 0) + count
            for candidate, counts in candidates.items():
                into = into_candidates.setdefault(candidate, {})
                for field, count in counts.items():
                    into[field] = into.get(field, 0) + count
    return total


def choose(
    plan: Plan, text: str, evidence: Evidence, doc_count: int, *, found_nothing: bool
) -> str | None:
    """The corrected query string from summed evidence (a cluster's), by the rules of
    ``suggest``."""
    min_docs = 1 if doc_count < SMALL_INDEX else MIN_DOCS

    def best(norm: str) -> str | None:
        if norm not in evidence:
            return None
        seen_by_field, candidates = evidence[norm]
        seen = max(seen_by_field.values(), default=0)
        if seen >= RARE_DOCS:
            return None
        counts = {c: max(by_field.values()) for c, by_field in candidates.items()}
        return _best(norm, counts, seen, min_docs, found_nothing)

    return _corrected(plan, text, best)


def _best(
    norm: str, counts: dict[str, int], seen: int, min_docs: int, found_nothing: bool
) -> str | None:
    limit = _limit(norm)
    factor = 1 if found_nothing else MIN_FACTOR
    floor = max(min_docs, factor * max(seen, 1), seen + 1)
    best, best_key = None, None
    for candidate, count in counts.items():
        if candidate == norm or count < floor:
            continue
        distance = edit_distance(norm, candidate, limit + 1)
        if distance > limit:
            continue
        key = (distance, -count, candidate)
        if best_key is None or key < best_key:
            best, best_key = candidate, key
    return best


def _corrected(plan: Plan, text: str, best: Callable[[str], str | None]) -> str | None:
    """``text`` with each query word that ``best`` corrects replaced (None: none is)."""
    replacements: list[tuple[int, int, str]] = []
    for word, norm in plan.words:
        found = best(norm) if _suggestible(norm) else None
        if found is not None:
            start = text.find(word.text, word.position)
            if start >= 0:
                replacements.append((start, start + len(word.text), found))
    if not replacements:
        return None
    out = text
    for start, end, replacement in sorted(replacements, reverse=True):
        out = out[:start] + replacement + out[end:]
    return out


def suggest(
    snapshot: Snapshot, plan: Plan, text: str, *, found_nothing: bool = False
) -> str | None:
    """The corrected query string, or None when every word looks fine. When the query
    found nothing, any close word more frequent than the query's will do; otherwise it
    must be ``MIN_FACTOR`` times as frequent."""

    def best(norm: str) -> str | None:
        seen = _frequency(snapshot, norm)
        if seen >= RARE_DOCS:
            return None
        vocabulary = _vocabulary(snapshot)
        counts = {c: vocabulary.counts[c] for c in vocabulary.candidates(norm)}
        return _best(norm, counts, seen, vocabulary.min_docs, found_nothing)

    return _corrected(plan, text, best)
