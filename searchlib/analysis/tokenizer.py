"""Word segmentation with ICU's word BreakIterator, offsets in Python ``str`` indices.

ICU finds word boundaries for any script; we keep the segments whose rule status is
not 0 (words, numbers, kana, ideographs), like Lucene's ICUTokenizer. Two fixes on top:

* PyICU reports UTF-16 code-unit offsets; we convert them to ``str`` indices, or every
  offset after an emoji (or any non-BMP character) would be wrong.
* ICU splits at hyphens and slashes. Words joined by a hyphen with no spaces
  (``negara-negara``, ``e-KTP``, ``Covid-19``) and numbers joined by a slash (``31/8``)
  come back as one segment; the analyzer decides what term they get.
"""

from __future__ import annotations

import re
import threading

__all__ = ["HYPHENS", "load_tokenizer", "replace_unpaired_surrogates", "segment_words"]

HYPHENS = "-\u2010\u2011"  # hyphen-minus, hyphen, non-breaking hyphen
_UNPAIRED = re.compile("[\ud800-\udfff]")
_local = threading.local()


def load_tokenizer() -> None:
    """Load ICU now (a first search otherwise pays for it), with this thread's
    iterator."""
    _break_iterator()


def _break_iterator():
    """One ICU word BreakIterator per thread (they are stateful), built on first use."""
    iterator = getattr(_local, "word_iterator", None)
    if iterator is None:
        import icu  # imported lazily: building the analyzer must not need ICU loaded

        iterator = icu.BreakIterator.createWordInstance(icu.Locale("id"))
        _local.word_iterator = iterator
    return iterator


def replace_unpaired_surrogates(text: str) -> str:
    """``text`` with each unpaired surrogate (what a JSON ``"\\ud800"`` escape decodes
    to: no UTF-8 or UTF-16 form) as U+FFFD, one ``str`` unit as it was, so offsets
    hold. Queries and typed text go through it; records holding one are refused."""
    return _UNPAIRED.sub("\ufffd", text) if not text.isascii() else text


def _utf16_to_str_index(text: str) -> list[int] | None:
    """Map UTF-16 offsets to str indices, or None when they coincide (no astral chars)."""
    if text.isascii() or len(text.encode("utf-16-le")) == 2 * len(text):
        return None
    mapping: list[int] = []
    for index, char in enumerate(text):
        mapping.append(index)
        if ord(char) > 0xFFFF:
            mapping.append(index)  # the low surrogate maps to the same character
    mapping.append(len(text))
    return mapping


def segment_words(text: str) -> list[int]:
    """Word segments of ``text`` as a flat list ``[start0, end0, start1, end1, ...]``
    (str indices), hyphenated words and slashed numbers joined.

    One tight loop over ICU's boundaries: this is the hot path of all indexing, hence
    the flat list of ints rather than tuples.
    """
    iterator = _break_iterator()
    try:
        mapping = _utf16_to_str_index(text)
    except UnicodeEncodeError:
        # An unpaired surrogate (from a direct analyzer call) has no UTF-16 form for ICU.
        text = replace_unpaired_surrogates(text)
        mapping = _utf16_to_str_index(text)
    iterator.setText(text)
    status_of = iterator.getRuleStatus
    bounds: list[int] = []
    append = bounds.append
    previous = 0
    p_end = -2
    p_number = False
    for boundary in iterator:
        status = status_of()
        if status == 0:
            previous = boundary
            continue
        if mapping is None:
            start, end = previous, boundary
        else:
            start, end = mapping[previous], mapping[boundary]
        previous = boundary
        is_number = 100 <= status < 200
        if start == p_end + 1:
            joiner = text[p_end]
            if joiner in HYPHENS or (joiner == "/" and p_number and is_number):
                bounds[-1] = p_end = end
                p_number = p_number and is_number
                continue
        append(start)
        append(end)
        p_end = end
        p_number = is_number
    return bounds
