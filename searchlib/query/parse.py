"""Our query language, parsed into a small tree that the search layer executes.

Syntax (Lucene's classic rules where they exist):

* ``evakuasi kabul`` - plain words, any may match (OR); more matches rank first.
* ``"joe biden"`` - a phrase: the words' stems at consecutive positions.
* ``+taliban`` / ``-kabul`` - the word must / must not match; ``NOT kabul`` = ``-kabul``.
* ``rusia AND taliban``, ``rusia OR taliban``, parentheses: ``(rusia OR china) AND taliban``.
  ``AND`` makes the clauses on both sides required; operators are upper case only.
* ``title:kabul``, ``body:"penerbangan evakuasi"`` - search one text field.
* ``category:olahraga``, ``source:"cnn indonesia"`` - exact keyword match (case-insensitive).
* ``bangun*`` - prefix; ``afganistan~`` - fuzzy (1 edit for words up to 5 letters, else 2;
  ``~1``/``~2`` explicit).
* ``published:2021``, ``published:2021-08``, ``published:[2021-08-01 TO 2021-08-31]``,
  ``published:{2021-01-01 TO *]``, ``published:>=2021-08-15`` - dates (UTC).

Malformed input degrades instead of failing: an unclosed quote or parenthesis closes at
the end, a stray ``)`` or operator is ignored, an unknown ``field:`` is plain text. A
``QueryError`` (with the position) is raised only for what cannot be read as text, such
as an invalid date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from searchlib.analysis.tokenizer import replace_unpaired_surrogates
from searchlib.dates import period
from searchlib.errors import QueryError

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

SHOULD, MUST, MUST_NOT = "should", "must", "must_not"
TEXT_FIELDS = ("title", "body")
KEYWORD_FIELDS = ("category", "source", "id")
DATE_FIELDS = ("published",)
MAX_CLAUSES = 4096
MAX_DEPTH = 64


@dataclass
class Word:
    text: str
    field: str | None = None
    position: int = 0


@dataclass
class Phrase:
    text: str
    field: str | None = None
    position: int = 0


@dataclass
class Prefix:
    text: str
    field: str | None = None
    position: int = 0


@dataclass
class Fuzzy:
    text: str
    distance: int
    field: str | None = None
    position: int = 0


@dataclass
class Keyword:
    field: str
    value: str
    position: int = 0


@dataclass
class DateRange:
    start: int | None  # inclusive, seconds (UTC)
    end: int | None  # exclusive
    position: int = 0


@dataclass
class Bool:
    clauses: list[tuple[str, Node]] = field(default_factory=list)


Node = Word | Phrase | Prefix | Fuzzy | Keyword | DateRange | Bool

_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}
_SPECIAL = set('()"')
_FUZZY = re.compile(r"(.+?)~(\d*)")
_COMPARISON = re.compile(r"(>=|<=|>|<)(.+)")
_RANGE = re.compile(r"([\[{])\s*(\S+)\s+TO\s+(\S+?)\s*([\]}])", re.IGNORECASE)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.clause_count = 0

    # -- scanning ------------------------------------------------------------------

    def _skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def _read_bare(self) -> str:
        start = self.i
        while self.i < len(self.text):
            char = self.text[self.i]
            if char.isspace() or char in _SPECIAL:
                break
            self.i += 1
        return self.text[start : self.i]

    def _read_quoted(self) -> str:
        """Read a quoted string at self.i; an unclosed quote runs to the end."""
        self.i += 1
        end = self.text.find('"', self.i)
        if end < 0:
            end = len(self.text)
        value = self.text[self.i : end]
        self.i = min(end + 1, len(self.text))
        return value

    # -- grammar -------------------------------------------------------------------

    def parse_sequence(self, depth: int) -> Bool:
        if depth > MAX_DEPTH:
            raise QueryError(
                f"parentheses nested deeper than {MAX_DEPTH} at position {self.i}",
                position=self.i,
            )
        clauses: list[list] = []
        pending_and = pending_not = False
        while True:
            self._skip_space()
            if self.i >= len(self.text):
                break
            char = self.text[self.i]
            if char == ")":
                self.i += 1
                if depth > 0:
                    break
                continue  # a stray ')' is ignored
            start = self.i
            occur = SHOULD
            if char in "+-" and self.i + 1 < len(self.text):
                following = self.text[self.i + 1]
                if not following.isspace() and following not in "+-)":
                    occur = MUST if char == "+" else MUST_NOT
                    self.i += 1
            if self.text[self.i] not in _SPECIAL and occur == SHOULD:
                mark = self.i
                bare = self._read_bare()
                operator = _OPERATORS.get(bare)
                if operator == "AND":
                    pending_and = bool(clauses)
                    continue
                if operator == "OR":
                    pending_and = False
                    continue
                if operator == "NOT":
                    pending_not = True
                    continue
                self.i = mark
            node = self.parse_primary(depth)
            if node is None:
                continue
            if pending_not:
                occur, pending_not = MUST_NOT, False
            if pending_and and clauses:
                if clauses[-1][0] == SHOULD:
                    clauses[-1][0] = MUST
                if occur == SHOULD:
                    occur = MUST
            pending_and = False
            if occur == SHOULD and isinstance(node, (Keyword, DateRange)):
                occur = MUST  # field filters restrict the results, they never widen them
            self.clause_count += 1
            if self.clause_count > MAX_CLAUSES:
                raise QueryError(
                    f"query has more than {MAX_CLAUSES} clauses at position {start}",
                    position=start,
                )
            clauses.append([occur, node])
        return Bool([(occur, node) for occur, node in clauses])

    def parse_primary(self, depth: int) -> Node | None:
        start = self.i
        char = self.text[self.i]
        if char == "(":
            self.i += 1
            group = self.parse_sequence(depth + 1)
            return group if group.clauses else None
        if char == '"':
            phrase = self._read_quoted()
            return Phrase(phrase, None, start) if phrase.strip() else None
        bare = self._read_bare()
        if not bare:
            self.i += 1
            return None
        name, colon, rest = bare.partition(":")
        lowered = name.lower()
        if colon and lowered in (*TEXT_FIELDS, *KEYWORD_FIELDS, *DATE_FIELDS):
            return self.parse_field(lowered, rest, start)
        return _word_node(bare, None, start)

    def parse_field(self, name: str, rest: str, start: int) -> Node | None:
        if not rest and self.i < len(self.text) and self.text[self.i] == '"':
            rest_quoted = self._read_quoted()
            if name in TEXT_FIELDS:
                return Phrase(rest_quoted, name, start) if rest_quoted.strip() else None
            if name in KEYWORD_FIELDS:
                return Keyword(name, rest_quoted, start)
            return self.parse_date(name, rest_quoted, start)
        if name in DATE_FIELDS:
            if rest[:1] in "[{":
                # A range spans spaces: read up to the closing bracket.
                close = min(
                    (
                        p
                        for p in (
                            self.text.find("]", self.i - len(rest)),
                            self.text.find("}", self.i - len(rest)),
                        )
                        if p >= 0
                    ),
                    default=-1,
                )
                if close < 0:
                    raise QueryError(f"unclosed date range at position {start}", position=start)
                rest = self.text[self.i - len(rest) : close + 1]
                self.i = close + 1
            return self.parse_date(name, rest, start)
        if not rest:
            return None
        if name in KEYWORD_FIELDS:
            return Keyword(name, rest, start)
        return _word_node(rest, name, start)

    def parse_date(self, name: str, value: str, start: int) -> DateRange:
        try:
            if match := _RANGE.fullmatch(value.strip()):
                low_bracket, low, high, high_bracket = match.groups()
                begin = None if low == "*" else period(low)[0 if low_bracket == "[" else 1]
                end = None if high == "*" else period(high)[1 if high_bracket == "]" else 0]
                return DateRange(begin, end, start)
            if match := _COMPARISON.fullmatch(value.strip()):
                operator, moment = match.groups()
                low, high = period(moment)
                if operator == ">":
                    return DateRange(high, None, start)
                if operator == ">=":
                    return DateRange(low, None, start)
                if operator == "<":
                    return DateRange(None, low, start)
                return DateRange(None, high, start)
            low, high = period(value)
            return DateRange(low, high, start)
        except (ValueError, TypeError, OverflowError) as exc:
            raise QueryError(
                f"invalid date {value!r} for {name}: at position {start} "
                "(use YYYY, YYYY-MM, YYYY-MM-DD or [A TO B])",
                position=start,
            ) from exc


def _word_node(bare: str, field_name: str | None, start: int) -> Node | None:
    if bare.endswith("*") and len(bare.rstrip("*")) >= 1:
        return Prefix(bare.rstrip("*").replace("*", ""), field_name, start)
    bare = bare.replace("*", "").replace("?", "")
    if not bare:
        return None
    if (match := _FUZZY.fullmatch(bare)) and match.group(1).strip("~"):
        word, digits = match.groups()
        word = word.rstrip("~")
        distance = int(digits[:2]) if digits else (1 if len(word) <= 5 else 2)
        return Fuzzy(word, max(1, min(distance, 2)), field_name, start)
    bare = bare.replace("~", " ")
    return Word(bare, field_name, start) if bare.strip() else None


def parse_query(text: str) -> Bool:
    """Parse ``text`` into a ``Bool`` of clauses; raises ``QueryError`` on bad dates."""
    if not isinstance(text, str):
        raise QueryError(f"a query must be a str, not {type(text).__name__}")
    return _Parser(replace_unpaired_surrogates(text)).parse_sequence(0)
