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

import threading
from collections.abc import Iterator

__all__ = ["Segment", "segment_words"]

# (start, end, is_number) in str indices.
Segment = tuple[int, int, bool]

_HYPHENS = frozenset("-\u2010\u2011")
_local = threading.local()


def _break_iterator():
    """One ICU word BreakIterator per thread (they are stateful), built on first use."""
    iterator = getattr(_local, "word_iterator", None)
    if iterator is None:
        import icu  # imported lazily: building the analyzer must not need ICU loaded

        iterator = icu.BreakIterator.createWordInstance(icu.Locale("id"))
        _local.word_iterator = iterator
    return iterator


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


def _raw_segments(text: str) -> Iterator[Segment]:
    """ICU word segments with a non-zero rule status."""
    iterator = _break_iterator()
    iterator.setText(text)
    mapping = _utf16_to_str_index(text)
    previous = 0
    for boundary in iterator:
        status = iterator.getRuleStatus()
        if status != 0:
            if mapping is None:
                yield previous, boundary, 100 <= status < 200
            else:
                yield mapping[previous], mapping[boundary], 100 <= status < 200
        previous = boundary


def segment_words(text: str) -> Iterator[Segment]:
    """Yield word segments of ``text``, joining hyphenated words and slashed numbers."""
    pending: Segment | None = None
    for start, end, is_number in _raw_segments(text):
        if pending is not None:
            p_start, p_end, p_number = pending
            if start == p_end + 1:
                joiner = text[p_end]
                if joiner in _HYPHENS or (joiner == "/" and p_number and is_number):
                    pending = (p_start, end, p_number and is_number)
                    continue
            yield pending
        pending = (start, end, is_number)
    if pending is not None:
        yield pending
