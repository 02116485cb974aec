"""Stemming audit: words whose affixes can be read two ways, by frequency, with contexts.

Sastrawi takes the first dictionary root its rules reach. Where a word can be cut in two
ways (``penarik-an`` / ``penari-kan``) that first root is often the wrong one
(``penarikan`` -> ``tari``). For every word of a corpus this lists every root of
Sastrawi's dictionary that the Indonesian affix rules can reach (prefixes ``di-``,
``ke-``, ``se-``, ``ber-``, ``ter-``, ``meN-``, ``peN-``, ``per-`` with their sound
changes, up to three deep; suffixes ``-i``, ``-kan``, ``-an``, ``-ku``, ``-mu``, ``-nya``,
``-lah``, ``-kah``, ``-tah``, ``-pun``), the stem searchlib gives (Sastrawi behind the
exclusion table), and flags the words with more than one root, most frequent first,
with a few contexts each. Reviewed decisions go to
``searchlib/analysis/data/stem_exclusions.txt``.

    python benchmarks/audit_stems.py --corpus ../shared/corpus/indosum-news.jsonl \\
        --top 300 --out /tmp/stem-audit.tsv
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import SHARED_CORPUS, load_articles

from searchlib import Analyzer

WORD = re.compile(r"[a-z]+")
PARTICLES = ("lah", "kah", "tah", "pun")
POSSESSIVES = ("ku", "mu", "nya")
DERIVATIONAL = ("kan", "an", "i")
VOWELS = "aiueo"


def dictionary() -> frozenset[str]:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    return frozenset(StemmerFactory().get_words_from_file())


def _suffix_forms(word: str) -> set[str]:
    """The word with each allowed sequence of suffixes taken off."""
    forms = {word}
    for group in (PARTICLES, POSSESSIVES, DERIVATIONAL):
        for form in list(forms):
            for suffix in group:
                if form.endswith(suffix) and len(form) - len(suffix) >= 3:
                    forms.add(form[: -len(suffix)])
    return forms


def _prefix_forms(word: str, depth: int = 3) -> set[str]:
    """The word with each allowed prefix (and its sound change) taken off, repeatedly."""
    forms = {word}
    if depth == 0 or len(word) < 5:
        return forms
    rest: set[str] = set()
    for plain in ("di", "ke", "se", "ber", "ter", "per", "be", "te", "pe", "me"):
        if word.startswith(plain):
            rest.add(word[len(plain) :])
    for prefix in ("me", "pe"):
        if not word.startswith(prefix):
            continue
        tail = word[2:]
        if tail.startswith("ng"):  # meng-/peng-: k dropped, or a vowel/g/h/k root
            rest.update({tail[2:], "k" + tail[2:]})
        elif tail.startswith("ny"):  # meny-/peny-: s dropped
            rest.update({"s" + tail[2:], tail[2:]})
        elif tail.startswith("m"):  # mem-/pem-: p dropped, or b/f/v/m roots
            rest.update({tail[1:], "p" + tail[1:], "m" + tail[1:]})
        elif tail.startswith("n"):  # men-/pen-: t dropped, or c/d/j/n roots
            rest.update({tail[1:], "t" + tail[1:], "n" + tail[1:]})
    if word.startswith("bel") or word.startswith("pel"):  # belajar, pelajar -> ajar
        rest.add(word[3:])
    for form in rest:
        if len(form) >= 3:
            forms |= _prefix_forms(form, depth - 1)
    return forms


def roots(word: str, words: frozenset[str]) -> set[str]:
    """Every dictionary root the affix rules reach from ``word``."""
    found = set()
    for suffixless in _suffix_forms(word):
        for form in _prefix_forms(suffixless):
            if form in words and len(form) >= 3:
                found.add(form)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SHARED_CORPUS))
    parser.add_argument("--top", type=int, default=300)
    parser.add_argument("--contexts", type=int, default=2)
    parser.add_argument("--out", default="-")
    args = parser.parse_args()
    words = dictionary()
    analyzer = Analyzer()
    counts: Counter[str] = Counter()
    contexts: dict[str, list[str]] = defaultdict(list)
    for article in load_articles(args.corpus):
        text = f"{article.get('title') or ''}. {article.get('body') or ''}"
        lowered = text.lower()
        for match in WORD.finditer(lowered):
            word = match.group()
            counts[word] += 1
            if len(contexts[word]) < args.contexts:
                start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
                contexts[word].append(" ".join(text[start:end].split()))
    rows = []
    for word, count in counts.most_common():
        if len(word) < 5 or word in analyzer.stopwords:
            continue
        reached = roots(word, words)
        if len(reached) < 2:
            continue
        stem = analyzer.term(word) or ""
        rows.append((word, count, stem, sorted(reached), contexts[word]))
        if len(rows) == args.top:
            break
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    print("word\tcount\tstem\troots\tcontexts", file=out)
    for word, count, stem, reached, found in rows:
        print(f"{word}\t{count}\t{stem}\t{','.join(reached)}\t{' | '.join(found)}", file=out)
    if out is not sys.stdout:
        out.close()
    print(f"{len(rows)} ambiguous words listed", file=sys.stderr)


if __name__ == "__main__":
    main()
