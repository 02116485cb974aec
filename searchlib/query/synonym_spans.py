"""Finding the runs of query words a synonym rule names (before they are compiled).

``synonym_spans`` walks a query's clauses: consecutive words with the same occurrence
(``should`` or ``must``) and field form a run; within a run, the longest rule input
starting at each word becomes one ``SynonymSpan`` (a negated word only alone: ``-kpk``
excludes every form of it). Words are compared by their normalized forms; a word that
analyzes to nothing (a stopword) is skipped over, as queries skip it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from searchlib.analysis import Token
from searchlib.analysis.synonyms import SynonymTable
from searchlib.query.parse import MUST, MUST_NOT, Node, Word

__all__ = ["SynonymSpan", "synonym_spans"]


@dataclass(frozen=True)
class SynonymSpan:
    """Consecutive query words a synonym rule names, and the entries it searches."""

    words: tuple[Word, ...]
    outputs: tuple[str, ...]
    field: str | None
    every_word: bool = False  # typed as +a +b: as typed, all must match
    quoted: bool = False  # one quoted phrase that is a rule's entry


def synonym_spans(
    clauses: list[tuple[str, Node]],
    table: SynonymTable,
    analyzed: Callable[[str], list[Token]],
) -> list[tuple[str, Node | SynonymSpan]]:
    """``clauses`` with each run of words a synonym rule names made one span."""
    out: list[tuple[str, Node | SynonymSpan]] = []
    at = 0
    while at < len(clauses):
        occur, child = clauses[at]
        if not isinstance(child, Word):
            out.append(clauses[at])
            at += 1
            continue
        end = at + 1
        while occur != MUST_NOT and end < len(clauses):
            next_occur, next_child = clauses[end]
            if next_occur != occur or not isinstance(next_child, Word):
                break
            if next_child.field != child.field:
                break
            end += 1
        run = [c for _o, c in clauses[at:end] if isinstance(c, Word)]
        out.extend(_run_spans(table, analyzed, occur, run))
        at = end
    return out


def _run_spans(
    table: SynonymTable, analyzed: Callable[[str], list[Token]], occur: str, run: list[Word]
) -> list[tuple[str, Node | SynonymSpan]]:
    """One run of words with the same occurrence and field, synonyms grouped."""
    norms: list[str] = []
    owners: list[int] = []  # the word of the run each norm comes from
    for number, word in enumerate(run):
        primary = [t for t in analyzed(word.text) if t.primary]
        if len(primary) == 1:
            norms.append(primary[0].norm)
            owners.append(number)
    out: list[tuple[str, Node | SynonymSpan]] = []
    done = 0  # words of the run already placed
    at = 0
    while at < len(norms):
        found = table.match(norms, at)
        if found is None:
            at += 1
            continue
        length, outputs = found
        first, last = owners[at], owners[at + length - 1]
        out.extend((occur, word) for word in run[done:first])
        words = tuple(run[first : last + 1])
        out.append((occur, SynonymSpan(words, tuple(outputs), words[0].field, occur == MUST)))
        done = last + 1
        at += length
    out.extend((occur, word) for word in run[done:])
    return out
