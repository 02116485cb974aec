"""The query path: parse (syntax) -> compile (a plan of index terms) -> execute (BM25).

``parse`` reads the query language into a tree; ``plan`` compiles the tree against a
snapshot with the index's analyzer; ``execute`` matches and ranks the plan over posting
arrays; ``search`` runs the three and builds the page: ``results`` with ``snippets`` (from
the plan's terms) and a ``suggest``ion. ``ranking`` holds BM25 and its parameters.
"""

from searchlib.query.parse import (
    MUST,
    MUST_NOT,
    SHOULD,
    Bool,
    DateRange,
    Fuzzy,
    Keyword,
    Node,
    Phrase,
    Prefix,
    Word,
    parse_query,
)

__all__ = [
    "MUST",
    "MUST_NOT",
    "SHOULD",
    "Bool",
    "DateRange",
    "Fuzzy",
    "Keyword",
    "Node",
    "Phrase",
    "Prefix",
    "Word",
    "parse_query",
]
