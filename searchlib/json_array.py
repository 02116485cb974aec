"""Reading a JSON array's elements one at a time, in bounded memory.

``json.loads`` needs the whole text and builds the whole list: an export of a million
articles as one JSON array would take gigabytes before its first article is indexed.
``array_elements`` reads the stream in chunks and decodes one element at a time with the
standard library's own decoder (``json.JSONDecoder.raw_decode``), keeping only the text
not yet decoded: memory bounded by the largest element, not the file.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

__all__ = ["MAX_ELEMENT_BYTES", "NOT_UTF8", "JsonArrayError", "json_items"]

CHUNK = 1 << 20
# An element still undecoded when this much text follows its start is malformed (an
# article is at most 5 million characters: a few times that in JSON).
MAX_ELEMENT_BYTES = 64 << 20
_WHITESPACE = " \t\n\r"
_ENDS = _WHITESPACE + ",]}"  # what may follow a value
_DECODER = json.JSONDecoder()
# Bytes that are not UTF-8 are decoded as lone surrogates (surrogateescape) and found
# per element: the elements around one are kept.
_ESCAPED = re.compile("[\udc80-\udcff]")
NOT_UTF8 = object()  # what ``json_items`` gives for an element holding such bytes


class JsonArrayError(ValueError):
    """The stream is not a well-formed JSON array at element ``number`` (1-based; the
    elements before it were good)."""

    def __init__(self, message: str, number: int) -> None:
        super().__init__(message)
        self.number = number


def json_items(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """``(number, element)`` for each element of the JSON array ``stream`` holds
    (UTF-8), decoded one at a time, numbered from 1; for any other JSON value, ``(0,
    value)``; ``NOT_UTF8`` for an element holding bytes that are not UTF-8.
    ``JsonArrayError`` where the text stops being well-formed (what came before it
    was), with the element's number (0: the one value)."""
    reader = _Text(stream)
    if reader.next_char(0) != "[":
        yield 0, reader.decode_value(0)
        reader.expect_end(0)
        return
    reader.pos += 1
    number = 0
    while True:
        char = reader.next_char(number + 1)
        if char == "]":
            break
        if number:  # after an element: a comma before the next
            if char != ",":
                raise JsonArrayError(f"expected ',' or ']' after element {number}", number + 1)
            reader.pos += 1
            if reader.next_char(number + 1) == "]":
                raise JsonArrayError("a ',' before ']'", number + 1)
        number += 1
        yield number, reader.decode_value(number)
    reader.pos += 1
    reader.expect_end(number + 1)


class _Text:
    """The stream's text, decoded incrementally; ``pos`` is where reading stands."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        # A BOM is dropped; bad bytes become lone surrogates (``_ESCAPED``).
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self.text = ""
        self.pos = 0
        self._ended = False

    def _more(self, number: int) -> bool:
        """Read another chunk (dropping what was decoded); False at the end."""
        if self._ended:
            return False
        data = self._stream.read(CHUNK)
        more = self._decoder.decode(data, final=not data)
        self.text = self.text[self.pos :] + more
        self.pos = 0
        self._ended = not data
        return True

    def next_char(self, number: int = 0) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more(number):
                return ""

    def expect_end(self, number: int) -> None:
        if self.next_char(number) != "":
            raise JsonArrayError("data after the JSON value", number)

    def decode_value(self, number: int) -> Any:
        """Decode the value at ``pos``, reading more text while it is cut short."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.text) - self.pos > MAX_ELEMENT_BYTES or not self._more(number):
                    raise JsonArrayError(f"invalid JSON: {exc.msg}", number) from exc
                continue
            except RecursionError as exc:
                raise JsonArrayError("invalid JSON: nested too deeply", number) from exc
            # A number cut by a chunk may decode short ("0." of "0.5" as 0): a value is
            # taken once what follows it is known to end it.
            if (
                (end == len(self.text) or self.text[end] not in _ENDS)
                and len(self.text) - self.pos <= MAX_ELEMENT_BYTES
                and self._more(number)
            ):
                continue
            start, self.pos = self.pos, end
            return NOT_UTF8 if _ESCAPED.search(self.text, start, end) else value
