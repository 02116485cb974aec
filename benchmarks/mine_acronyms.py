"""Acronym mining: "long form (ACRONYM)" and "ACRONYM (long form)" pairs, by frequency.

Indonesian news introduces an acronym beside its long form: "Komisi Pemberantasan
Korupsi (KPK)", "Bawaslu (Badan Pengawas Pemilu)". This finds both patterns in a
corpus and keeps a pair when the acronym can be spelled from the long form's words in
order, each capitalized word giving at least one letter (a prefix for initials, any
letters for syllable acronyms: KPK, Polri = POLisi Republik Indonesia, Bawaslu =
BAdan pengaWASas pemiLU, Jabodetabek); short connectives (``dan``, ``untuk``) may give
none. For "long form (ACRONYM)" the long form is the shortest run of words before the
parenthesis that spells it. Pairs are ranked by how many articles hold them, with an
example; the reviewed result is ``searchlib/analysis/data/synonyms.txt``.

    python benchmarks/mine_acronyms.py --corpus ../shared/corpus/indosum-news.jsonl \\
        --min-articles 2 --out /tmp/acronyms.tsv
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import SHARED_CORPUS, load_articles

# An acronym: 2-12 letters, starting upper case, with a second capital (KPK, DPRD,
# PDIP) or a short capitalized word (Polri, Bawaslu, Kemenkeu).
ACRONYM = r"[A-Z](?:[A-Z]{1,11}|[a-z]{2,9})"
LONG_THEN_ACRONYM = re.compile(rf"((?:[\w'-]+,?\s+){{1,10}})\(({ACRONYM})\)")
ACRONYM_THEN_LONG = re.compile(rf"\b({ACRONYM})\s+\(([^()]{{5,90}})\)")
WORD = re.compile(r"[\w'-]+")
CONNECTIVES = frozenset({"dan", "untuk", "dari", "di", "ke", "atau", "serta", "pada", "se"})
MAX_WORDS = 10


def spells(acronym: str, words: tuple[str, ...]) -> bool:
    """Whether ``acronym`` is spelled by ``words`` in order: the first word gives its
    first letter, every capitalized word gives at least one letter (a run of its own
    letters, in order), connectives may give none."""
    target = acronym.lower()
    lowered = tuple(w.lower() for w in words)
    if not lowered or not target or lowered[0][0] != target[0]:
        return False

    @cache
    def fits(word: int, at: int) -> bool:
        if word == len(lowered):
            return at == len(target)
        text = lowered[word]
        optional = text in CONNECTIVES or not words[word][0].isupper()
        if optional and fits(word + 1, at):
            return True
        # Take one or more of this word's letters (a subsequence, starting anywhere
        # for syllable acronyms but at its first letter for the first word).
        return _take(text, 0 if word == 0 else None, at, word)

    def _take(text: str, start: int | None, at: int, word: int) -> bool:
        positions = [0] if start == 0 else range(len(text))
        for first in positions:
            if at >= len(target) or text[first] != target[at]:
                continue
            # Greedy runs of increasing length from ``first``.
            taken, cursor = at + 1, first + 1
            if fits(word + 1, taken):
                return True
            while taken < len(target) and cursor < len(text):
                found = text.find(target[taken], cursor)
                if found < 0:
                    break
                taken, cursor = taken + 1, found + 1
                if fits(word + 1, taken):
                    return True
        return False

    return fits(0, 0)


def long_form_before(acronym: str, text: str) -> tuple[str, ...] | None:
    """The shortest run of words ending ``text`` that spells ``acronym``."""
    words = tuple(WORD.findall(text))[-MAX_WORDS:]
    for start in range(len(words) - 1, -1, -1):
        span = words[start:]
        if len(span) >= 2 and span[0][0].isupper() and spells(acronym, span):
            return span
    return None


def pairs_in(text: str) -> set[tuple[str, str]]:
    found = set()
    for match in LONG_THEN_ACRONYM.finditer(text):
        acronym = match.group(2)
        span = long_form_before(acronym, match.group(1))
        if span:
            found.add((acronym, " ".join(span)))
    for match in ACRONYM_THEN_LONG.finditer(text):
        acronym, inside = match.group(1), match.group(2)
        words = tuple(WORD.findall(inside))
        if 2 <= len(words) <= MAX_WORDS and words[0][0].isupper() and spells(acronym, words):
            found.add((acronym, " ".join(words)))
    return found


def mine(articles) -> tuple[Counter, dict]:
    """(acronym, long form casefolded) -> articles holding the pair, and an example."""
    counts: Counter = Counter()
    examples: dict = {}
    spellings: dict = defaultdict(Counter)
    for article in articles:
        text = f"{article.get('title') or ''}\n{article.get('body') or ''}"
        for acronym, long_form in pairs_in(text):
            key = (acronym.upper(), long_form.casefold())
            counts[key] += 1
            spellings[key][(acronym, long_form)] += 1
            examples.setdefault(key, article.get("id"))
    best = {key: spellings[key].most_common(1)[0][0] for key in counts}
    return counts, {key: (best[key], examples[key]) for key in counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SHARED_CORPUS))
    parser.add_argument("--min-articles", type=int, default=2)
    parser.add_argument("--out", default="-")
    args = parser.parse_args()
    counts, details = mine(load_articles(args.corpus))
    lines = ["acronym\tlong form\tarticles\texample article"]
    for key, count in counts.most_common():
        if count < args.min_articles:
            break
        (acronym, long_form), example = details[key]
        lines.append(f"{acronym}\t{long_form}\t{count}\t{example}")
    output = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(output)
    else:
        Path(args.out).write_text(output, encoding="utf-8")
        print(f"{len(lines) - 1} pairs in {args.out}")


if __name__ == "__main__":
    main()
