"""Differential test: searchlib's faster Sastrawi gives PySastrawi's stem for every
distinct word of the shared news corpus (or of the bundled texts when it is absent)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from searchlib.analysis.fast_sastrawi import build_fast_stemmer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "indosum-news.jsonl"
WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")

# PySastrawi alone, in a fresh interpreter: nothing of searchlib loaded or patched.
REFERENCE = """
import json, sys
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory
stemmer = StemmerFactory().create_stemmer()
words = json.load(sys.stdin)
json.dump([stemmer.stem(w) for w in words], sys.stdout)
"""


def _words() -> list[str]:
    texts: list[str] = []
    if CORPUS.exists():
        for line in CORPUS.read_text("utf-8").splitlines():
            record = json.loads(line)
            texts.append(f"{record.get('title', '')} {record.get('body', '')}")
    texts += [p.read_text("utf-8") for p in (ROOT / "seeds").glob("*.txt")]
    texts.append((ROOT / "tests" / "data" / "golden_terms.tsv").read_text("utf-8"))
    return sorted({w for text in texts for w in WORD.findall(text.lower())})


def test_fast_stemmer_matches_pysastrawi_on_every_word():
    words = _words()
    if not CORPUS.exists():
        print(f"\n{CORPUS} is absent: checking {len(words)} words of the bundled texts only")
    reference = subprocess.run(
        [sys.executable, "-c", REFERENCE],
        input=json.dumps(words),
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(reference.stdout)
    stemmer = build_fast_stemmer()
    mismatches = [
        (w, e, stemmer.stem_word(w))
        for w, e in zip(words, expected, strict=True)
        if stemmer.stem_word(w) != e
    ]
    print(f"\nfast stemmer: {len(words)} distinct words, {len(mismatches)} differences")
    assert mismatches == []
    assert len(words) > 100


@pytest.mark.parametrize("word", ["", "a", "-", "a-b-c", "meng-", "xyz"])
def test_odd_inputs_come_back_unchanged(word):
    # What PySastrawi's stem() gives for each: the word itself.
    assert build_fast_stemmer().stem_word(word) == word
