"""The Token: what the analyzer hands to the index, the query layer and the highlighter.

Invariant (as in tantivy): offsets are never changed by a filter, so
``original[token.start:token.end] == token.text`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Token"]


@dataclass(slots=True)
class Token:
    """One analyzed word.

    ``term`` is the index form (normalized and stemmed), ``text`` the untouched surface
    string, ``start``/``end`` its offsets in the original ``str``, ``position`` its word
    position (stopwords are dropped but still count). ``norm`` is the normalized but
    unstemmed form, used for exact-form matching; ``why`` says which rule produced
    ``term``; ``primary`` is False for the parts of a hyphenated compound, which share
    the compound's position; ``stopword`` is True for a stopword that is indexed
    (``stopword_mode="query"``) and dropped from queries that have other words.
    Treat tokens as read-only values.
    """

    term: str
    text: str
    start: int
    end: int
    position: int
    norm: str = ""
    why: str = ""
    primary: bool = True
    stopword: bool = False
