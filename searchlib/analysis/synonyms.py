"""Synonyms and acronyms: rules in Solr's format, kept with an index as data, applied to
queries (never to the indexed text, so changing them needs no re-index).

Solr's synonyms format, one rule a line: ``a, b, c`` makes the entries equivalent
(searching any finds all); ``a, b => c, d`` is one way (``a`` or ``b`` are searched as
``c`` or ``d``, the way ``SynonymGraphFilter`` reads it). ``#`` starts a comment line;
``\\,`` is a literal comma. An entry may be several words (``komisi pemberantasan
korupsi``): the query compiler matches it against consecutive query words and searches
it as a phrase. The shipped list (``data/synonyms.txt``) holds Indonesian acronyms
mined from news (``benchmarks/mine_acronyms.py``) and reviewed.

``SynonymTable`` is a ``Synonyms`` read by one analyzer: entries keyed by their words'
normalized forms (stopwords left out, as the analyzer leaves them out of queries).

>>> rules = Synonyms.parse("kpk, komisi pemberantasan korupsi\\njokowi => joko widodo")
>>> len(rules), rules.to_text().splitlines()[1]
(2, 'jokowi => joko widodo')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searchlib.errors import IndexCorruptError, SearchlibError

if TYPE_CHECKING:
    from searchlib.analysis.analyzer import Analyzer

__all__ = ["StoredSynonyms", "SynonymError", "SynonymRule", "SynonymTable", "Synonyms"]

MAX_RULES = 20_000  # kept in every commit point: a list, not a thesaurus
MAX_TOTAL_ENTRIES = 100_000
MAX_ENTRIES = 64  # per side of a rule: every entry of a rule maps to all of its outputs
MAX_ENTRY_CHARS = 200
MAX_ENTRY_WORDS = 8
_SPLIT = re.compile(r"(?<!\\),")


class SynonymError(SearchlibError):
    """A synonyms file or value that cannot be read (names the line and the entry)."""


@dataclass(frozen=True)
class SynonymRule:
    """``inputs`` are searched as ``outputs``; an equivalence has them equal."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def equivalent(self) -> bool:
        return self.inputs == self.outputs

    def to_text(self) -> str:
        def joined(entries: tuple[str, ...]) -> str:
            return ", ".join(e.replace(",", "\\,") for e in entries)

        if self.equivalent:
            return joined(self.inputs)
        return f"{joined(self.inputs)} => {joined(self.outputs)}"


def _entries(part: str, where: str) -> tuple[str, ...]:
    out = []
    for raw in _SPLIT.split(part):
        entry = " ".join(raw.replace("\\,", ",").split())
        if not entry:
            continue
        if len(entry) > MAX_ENTRY_CHARS or len(entry.split()) > MAX_ENTRY_WORDS:
            raise SynonymError(
                f"{where}: entry {entry[:40]!r}... is longer than {MAX_ENTRY_WORDS} words "
                f"or {MAX_ENTRY_CHARS} characters"
            )
        if entry not in out:
            out.append(entry)
        if len(out) > MAX_ENTRIES:
            raise SynonymError(f"{where}: more than {MAX_ENTRIES} entries on one side of a rule")
    return tuple(out)


class Synonyms:
    """An ordered set of synonym rules. ``Synonyms()`` is none (synonyms off);
    ``Synonyms.default()`` the shipped Indonesian acronyms."""

    def __init__(self, rules: Iterable[SynonymRule] = ()) -> None:
        self.rules: tuple[SynonymRule, ...] = tuple(rules)
        if len(self.rules) > MAX_RULES:
            raise SynonymError(f"{len(self.rules)} synonym rules: at most {MAX_RULES}")
        entries = sum(len(r.inputs) + (0 if r.equivalent else len(r.outputs)) for r in self.rules)
        if entries > MAX_TOTAL_ENTRIES:
            raise SynonymError(f"synonym rules of {entries} entries: at most {MAX_TOTAL_ENTRIES}")

    # -- reading -------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, source: str = "synonyms") -> Synonyms:
        """Rules from Solr-format text; ``SynonymError`` names the bad line."""
        rules = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            where = f"{source}, line {number}"
            if stripped.count("=>") > 1:
                raise SynonymError(f"{where}: more than one '=>' in {stripped[:60]!r}")
            if "=>" in stripped:
                left, right = stripped.split("=>")
                inputs, outputs = _entries(left, where), _entries(right, where)
                if not inputs or not outputs:
                    raise SynonymError(f"{where}: '=>' needs entries on both sides")
            else:
                inputs = outputs = _entries(stripped, where)
                if len(inputs) < 2:
                    raise SynonymError(
                        f"{where}: {stripped[:60]!r} has one entry; an equivalence needs two"
                    )
            rules.append(SynonymRule(inputs, outputs))
        return cls(rules)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Synonyms:
        """Rules from a Solr-format file (UTF-8)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SynonymError(f"cannot read synonyms file {str(file)!r}: {exc}") from exc
        return cls.parse(text, source=str(file))

    @classmethod
    def default(cls) -> Synonyms:
        """The shipped list: Indonesian acronyms and their long forms."""
        text = resources.files("searchlib.analysis").joinpath("data/synonyms.txt")
        return cls.parse(text.read_text("utf-8"), source="searchlib/analysis/data/synonyms.txt")

    @classmethod
    def chosen(cls, value: Synonyms | None) -> Synonyms:
        """``value``, or the shipped list for None; ``SynonymError`` for anything else."""
        if value is None:
            return cls.default()
        if not isinstance(value, Synonyms):
            raise SynonymError(f"synonyms must be a Synonyms, not {type(value).__name__}")
        return value

    # -- as data -------------------------------------------------------------------

    def to_data(self) -> list[dict[str, list[str]]]:
        """JSON data, as an index stores it."""
        out = []
        for rule in self.rules:
            item = {"in": list(rule.inputs)}
            if not rule.equivalent:
                item["out"] = list(rule.outputs)
            out.append(item)
        return out

    @classmethod
    def from_data(cls, data: Any, where: str = "synonyms") -> Synonyms:
        """The rules ``to_data`` wrote; ``SynonymError`` for anything else."""
        if not isinstance(data, list):
            raise SynonymError(f"{where}: not a list of rules")
        rules = []
        for number, item in enumerate(data):
            inputs = item.get("in") if isinstance(item, dict) else None
            outputs = item.get("out", inputs) if isinstance(item, dict) else None
            ok = all(
                isinstance(side, list)
                and 0 < len(side) <= MAX_ENTRIES
                and all(isinstance(e, str) and 0 < len(e) <= MAX_ENTRY_CHARS for e in side)
                for side in (inputs, outputs)
            )
            if not ok:
                raise SynonymError(f"{where}: rule {number} is not a pair of entry lists")
            rules.append(SynonymRule(tuple(inputs), tuple(outputs)))  # type: ignore[arg-type]
        return cls(rules)

    def to_text(self) -> str:
        """The rules in Solr's format, one a line."""
        return "".join(rule.to_text() + "\n" for rule in self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[SynonymRule]:
        return iter(self.rules)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Synonyms) and self.rules == other.rules

    def __hash__(self) -> int:
        return hash(self.rules)

    def __repr__(self) -> str:
        return f"Synonyms({len(self.rules)} rules)"


class SynonymTable:
    """``synonyms`` read by ``analyzer``: what a run of query words is searched as."""

    def __init__(self, synonyms: Synonyms, analyzer: Analyzer) -> None:
        self.synonyms = synonyms
        self.analyzer = analyzer
        self._outputs: dict[tuple[str, ...], list[str]] = {}
        self._words: dict[str, tuple[str, ...]] = {}  # an entry's normalized words
        for rule in synonyms:
            for entry in rule.inputs:
                key = self.words(entry)
                if not key:
                    continue
                found = self._outputs.setdefault(key, [])
                known = set(found)
                found.extend(o for o in rule.outputs if o not in known)
        self.longest = max((len(k) for k in self._outputs), default=0)

    def words(self, entry: str) -> tuple[str, ...]:
        """An entry's words as queries meet them: normalized, stopwords left out."""
        found = self._words.get(entry)
        if found is None:
            found = self._words[entry] = tuple(self.analyzer.norms(entry))
        return found

    def match(self, norms: Sequence[str], start: int) -> tuple[int, list[str]] | None:
        """The longest rule input starting at ``norms[start]``: (its length in words,
        the entries it is searched as), or None."""
        for length in range(min(self.longest, len(norms) - start), 0, -1):
            outputs = self._outputs.get(tuple(norms[start : start + length]))
            if outputs is not None:
                return length, outputs
        return None

    def __bool__(self) -> bool:
        return bool(self._outputs)


class StoredSynonyms:
    """The synonyms an index's commits keep as data, read by its analyzer once per
    change (the table is rebuilt only when a commit brings other rules). A commit
    without them (an index made before synonyms were kept) has the shipped list."""

    def __init__(self) -> None:
        self._cached: tuple[Any, SynonymTable] | None = None

    def table(self, data: Any, analyzer: Analyzer, where: str) -> SynonymTable:
        cached = self._cached
        if cached is not None and cached[0] == data and cached[1].analyzer is analyzer:
            return cached[1]
        if data is None:
            synonyms = Synonyms.default()
        else:
            try:
                synonyms = Synonyms.from_data(data, where=f"synonyms of {where}")
            except SynonymError as exc:
                raise IndexCorruptError(f"{where}: {exc}") from exc
        table = SynonymTable(synonyms, analyzer)
        self._cached = (data, table)
        return table
