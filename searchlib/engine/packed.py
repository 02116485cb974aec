"""Patched fixed-width integer streams: the codec of postings gaps, frequencies and positions.

A stream of non-negative integers is stored at one width per stream, chosen when it is
written from the values' bit lengths (1, 2, 4, 8 or 16 bits: whichever makes the
stream smallest): a value too large for the width is written as the width's largest
value (the escape) and kept whole, in order, among the stream's exceptions (PFOR's
patching, at one width per stream). Widths below 8 bits pack several values into a
byte, so a frequency of 1 (stored as 0) costs one bit, and most document gaps and
position steps one byte. Every ``BLOCK`` values the number of exceptions so far is
kept, so any range or any set of values decodes without reading the stream before it:
decoding is a few whole-array numpy operations (a slice or shift and mask, one compare,
one gather of the exceptions), a little dearer than reading fixed 16-bit values and
much cheaper than bit-packing at arbitrary widths (which numpy can only gather value
by value).

A stream ``s`` is arrays of a postings file: ``s`` (the packed values, uint8, or
uint16 at width 16), ``s.xc`` (exceptions before each block, one more than the
blocks), ``s.n`` (the value count and the width), and its exceptions, themselves a
packed stream ``s.x`` (``s.x``, ``s.x.xc``, ``s.x.n``) whose own exceptions ``s.x.x``
are plain, in the narrowest unsigned type that holds them: a gap too large for a
byte mostly fits two, and a few need four (index format 9; format 8 kept them all
plain, as wide as the largest).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BLOCK",
    "STREAM_SUFFIXES",
    "PackedInts",
    "StreamEncoder",
    "bit_length_counts",
    "choose_width",
    "data_layout",
    "encode",
    "narrow",
]

BLOCK = 128  # values per exception count (a multiple of 8: blocks start on a byte)
WIDTHS = (1, 2, 4, 8, 16)
SPARSE_FROM = 16  # blocks in a read from which only those holding exceptions are searched
# The arrays of a stream: its own three, then its exceptions' stream (plain inside).
STREAM_SUFFIXES = ("", ".xc", ".n", ".x", ".x.x", ".x.xc", ".x.n")
_PLAIN_SUFFIXES = ("", ".x", ".xc", ".n")
_MAX_BITS = 64


def bit_length_counts(values: np.ndarray) -> np.ndarray:
    """How many of ``values`` have ``value + 1`` of 0, 1, ..., 64 bits: a value
    escapes width ``w`` exactly when ``value + 1`` needs more than ``w`` bits."""
    shifted = np.asarray(values, dtype=np.int64).astype(np.float64) + 1.0
    # frexp's exponent is the bit length (exact below 2**53, far above any value here).
    _mantissa, lengths = np.frexp(shifted)
    return np.bincount(lengths.astype(np.int64), minlength=_MAX_BITS + 1)


def _exception_bytes(largest_bits: int) -> int:
    return 1 if largest_bits <= 8 else 2 if largest_bits <= 16 else 4 if largest_bits <= 32 else 8


def choose_width(counts: np.ndarray) -> int:
    """The width that stores values with these bit-length counts in the fewest bytes."""
    total = int(counts.sum())
    used = np.flatnonzero(counts)
    largest = int(used[-1]) if len(used) else 0
    each = _exception_bytes(largest)
    best, best_size = WIDTHS[-1], None
    for width in WIDTHS:
        escaping = int(counts[width + 1 :].sum())
        size = total * width / 8 + escaping * each
        if best_size is None or size < best_size:
            best, best_size = width, size
    return best


def data_layout(count: int, width: int) -> tuple[np.dtype, int]:
    """The type and length of the packed values of ``count`` values at ``width``."""
    if width >= 8:
        return np.dtype(np.uint16 if width == 16 else np.uint8), count
    return np.dtype(np.uint8), -(-count // (8 // width))


def _pack(lows: np.ndarray, width: int) -> np.ndarray:
    if width == 16:
        return lows.astype(np.uint16)
    if width == 8:
        return lows.astype(np.uint8)
    per = 8 // width
    padded = np.zeros(-(-len(lows) // per) * per, dtype=np.uint8)
    padded[: len(lows)] = lows
    shifts = (np.arange(per, dtype=np.uint8) * width).astype(np.uint8)
    return np.bitwise_or.reduce(padded.reshape(-1, per) << shifts, axis=1).astype(np.uint8)


class StreamEncoder:
    """Encodes one stream at a fixed width, a chunk at a time (merges write streams
    larger than memory): every chunk but the last a multiple of ``BLOCK`` values."""

    def __init__(self, width: int) -> None:
        if width not in WIDTHS:
            raise ValueError(f"width {width} is not one of {WIDTHS}")
        self.width = width
        self.escape = (1 << width) - 1
        self.count = 0
        self.exceptions = 0

    def feed(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``values``' packed data, exceptions and the exceptions count after each of
        their blocks (the ``.xc`` entries after the leading 0)."""
        if self.count % BLOCK:
            raise ValueError("only the last chunk of a stream may end inside a block")
        values = np.asarray(values, dtype=np.int64)
        escaped = values >= self.escape
        lows = np.where(escaped, self.escape, values)
        starts = np.arange(0, len(values), BLOCK)
        per_block = np.add.reduceat(escaped.astype(np.int64), starts) if len(starts) else starts
        after = self.exceptions + np.cumsum(per_block)
        self.count += len(values)
        self.exceptions += int(per_block.sum())
        return _pack(lows, self.width), values[escaped], after


def _encode_plain(values: np.ndarray) -> dict[str, np.ndarray]:
    """A stream whose exceptions are one plain array (``_PLAIN_SUFFIXES``)."""
    encoder = StreamEncoder(choose_width(bit_length_counts(values)))
    data, exceptions, after = encoder.feed(values)
    return {
        "": data,
        ".x": narrow(exceptions),
        ".xc": narrow(np.concatenate(([0], after))),
        ".n": np.asarray([len(values), encoder.width], dtype=np.int64),
    }


def encode(values: np.ndarray) -> dict[str, np.ndarray]:
    """One stream as its arrays, keyed by ``STREAM_SUFFIXES``: its exceptions a
    stream of their own."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) and int(values.min()) < 0:
        raise ValueError("a packed stream holds non-negative integers only")
    outer = _encode_plain(values)
    inner = _encode_plain(outer.pop(".x").astype(np.int64))
    return {**outer, **{f".x{suffix}": array for suffix, array in inner.items()}}


def exception_type(counts: np.ndarray) -> np.dtype:
    """The plain type that holds values with these bit-length counts (of value + 1)."""
    used = np.flatnonzero(counts)
    # The largest value needs at most the largest length's bits (of value + 1).
    largest = (1 << int(used[-1])) - 1 if len(used) else 0
    return narrow(np.asarray([largest])).dtype


def narrow(values: np.ndarray) -> np.ndarray:
    """Non-negative integers in the narrowest unsigned type that holds them."""
    top = int(values.max(initial=0))
    for kind in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(kind).max:
            return values.astype(kind, copy=False)
    return values.astype(np.uint64, copy=False)


class _PlainExceptions:
    """A stream's exceptions kept as one array (inside a nested stream)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.bytes = values.dtype.itemsize

    def __len__(self) -> int:
        return len(self.values)

    def validate(self, *, full: bool = False) -> None:
        if self.values.dtype.kind != "u":
            raise ValueError("a packed stream's exceptions are signed or fractional")

    def range(self, low: int, high: int) -> np.ndarray:
        return self.values[low:high]

    def take(self, indices: np.ndarray) -> np.ndarray:
        return self.values[indices]


class PackedInts:
    """The read side of one stream. Reads raise ``ValueError`` where the arrays do
    not fit together (the field reading it names the file)."""

    def __init__(self, parts: dict[str, np.ndarray]) -> None:
        self.data = parts[""]
        # Index format 9: the exceptions are a stream of their own; inside it, plain.
        self.exceptions: PackedInts | _PlainExceptions = (
            PackedInts({suffix: parts[f".x{suffix}"] for suffix in _PLAIN_SUFFIXES})
            if ".x.n" in parts
            else _PlainExceptions(parts[".x"])
        )
        self.before = parts[".xc"]
        head = parts[".n"]
        if len(head) != 2:
            raise ValueError("a packed stream's header is damaged")
        self.count, self.width = int(head[0]), int(head[1])
        if self.width not in WIDTHS or self.count < 0:
            raise ValueError(f"a packed stream has width {self.width}, count {self.count}")
        self.escape = (1 << self.width) - 1
        self.per = max(1, 8 // self.width)
        self._shifts = (np.arange(self.per, dtype=np.uint8) * self.width).astype(np.uint8)

    def __len__(self) -> int:
        return self.count

    @property
    def bytes(self) -> int:
        """Bytes of the plain type that holds every value (1, 2, 4 or 8)."""
        inner = self.exceptions.bytes if len(self.exceptions) else 1
        return max(inner, 2 if self.width == 16 else 1)

    def validate(self, *, full: bool = False) -> None:
        blocks = -(-self.count // BLOCK)
        kind, expected = data_layout(self.count, self.width)
        if len(self.data) != expected or self.data.dtype.itemsize != kind.itemsize:
            raise ValueError(f"a packed stream holds {len(self.data)} values, not {expected}")
        if any(part.dtype.kind != "u" for part in (self.data, self.before)):
            raise ValueError("a packed stream holds signed or fractional numbers")
        self.exceptions.validate(full=full)
        if len(self.before) != blocks + 1 or int(self.before[0]) != 0:
            raise ValueError("a packed stream's exception counts do not fit its blocks")
        if int(self.before[-1]) != len(self.exceptions):
            raise ValueError("a packed stream's exceptions do not span their data")
        if full and bool(np.any(self.before[1:] < self.before[:-1])):
            raise ValueError("a packed stream's exception counts are not ascending")

    def _lows(self, indices: np.ndarray) -> np.ndarray:
        if self.width >= 8:
            return self.data[indices].astype(np.int64)
        packed = self.data[indices // self.per].astype(np.int64)
        return (packed >> ((indices % self.per) * self.width)) & self.escape

    def _lows_between(self, low: int, high: int) -> np.ndarray:
        """Values ``low`` to ``high`` before patching (in the data's own type),
        ``low`` a block's start."""
        if self.width >= 8:
            return self.data[low:high]
        packed = self.data[low // self.per : -(-high // self.per)]
        if self.width == 1:
            return np.unpackbits(packed, count=high - low, bitorder="little")
        spread = (packed[:, None] >> self._shifts) & np.uint8(self.escape)
        return spread.reshape(-1)[: high - low]

    def range(self, low: int, high: int, dtype: type = np.int64) -> np.ndarray:
        """Values ``low`` to ``high - 1``, as ``dtype`` (which must hold them)."""
        if not 0 <= low <= high <= self.count:
            raise ValueError(f"values {low} to {high} lie outside a stream of {self.count}")
        start = low - low % BLOCK
        first_block, end_block = start // BLOCK, -(-high // BLOCK)
        lows = self._lows_between(start, high)
        values: np.ndarray = lows[low - start :].astype(dtype)
        # Most reads are of a few blocks: two counts tell whether any value escapes.
        if int(self.before[end_block]) == int(self.before[first_block]):
            return values
        if end_block - first_block <= SPARSE_FROM:
            return self._patch_all(values, lows, low - start, first_block)
        per_block = np.diff(self.before[first_block : end_block + 1].astype(np.int64))
        patched = np.flatnonzero(per_block)
        if len(patched) * 8 >= len(per_block):
            return self._patch_all(values, lows, low - start, first_block)
        # Few blocks hold exceptions (a frequent term's gaps): look in those only.
        cells = (patched[:, None] * BLOCK + np.arange(BLOCK)).reshape(-1)
        cells = cells[cells < high - start]
        where = cells[lows[cells] == self.escape]
        # An escape outside those blocks means the counts are damaged (a count is cheap).
        if len(where) != int(np.count_nonzero(lows == self.escape)):
            raise ValueError(f"the exceptions of values {low} to {high} do not fit")
        if not len(where):
            return values
        blocks = where // BLOCK
        # Rank among the exceptions: those before the block, then those before it in
        # the block (``where`` holds every escape of each block from its start).
        inside = np.arange(len(where)) - np.searchsorted(where, blocks * BLOCK)
        rank = self.before[first_block + blocks].astype(np.int64) + inside
        limit = self.before[first_block + blocks + 1].astype(np.int64)
        if bool(np.any(rank >= limit)) or int(rank.max()) >= len(self.exceptions):
            raise ValueError(f"the exceptions of values {low} to {high} do not fit")
        kept = where >= low - start
        values[where[kept] - (low - start)] = self.exceptions.take(rank[kept])
        return values

    def _patch_all(
        self, values: np.ndarray, lows: np.ndarray, skip: int, first_block: int
    ) -> np.ndarray:
        """Patch ``values`` (``lows`` from a block's start, less the first ``skip``)
        with their exceptions, found by one pass over ``lows``."""
        escaped = lows == self.escape
        # Those before the range (in its first block) are counted, not kept.
        first = int(self.before[first_block]) + int(np.count_nonzero(escaped[:skip]))
        escaped = escaped[skip:]
        count = int(np.count_nonzero(escaped))
        if not 0 <= first <= first + count <= len(self.exceptions):
            raise ValueError("the exceptions of a range do not fit")
        # Gathered by index: a boolean-mask assignment from a narrower type is several
        # times slower in numpy.
        values[np.flatnonzero(escaped)] = self.exceptions.range(first, first + count)
        return values

    def take(self, indices: np.ndarray) -> np.ndarray:
        """The values at ``indices`` (any order; int64)."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= self.count):
            raise ValueError(f"a value outside a stream of {self.count} was asked for")
        values = self._lows(indices)
        escaped = np.flatnonzero(values == self.escape)
        if not len(escaped):
            return values
        # Each escaped value's rank among the exceptions: those before its block, and
        # those before it within its block (its block's values decoded).
        where = indices[escaped]
        blocks, row = np.unique(where // BLOCK, return_inverse=True)
        cells = (blocks[:, None] * BLOCK + np.arange(BLOCK)).reshape(-1)
        inside = cells < self.count
        marks = np.zeros(len(cells), dtype=np.int64)
        marks[inside] = self._lows(cells[inside]) == self.escape
        earlier = np.cumsum(marks.reshape(-1, BLOCK), axis=1) - marks.reshape(-1, BLOCK)
        rank = self.before[where // BLOCK].astype(np.int64) + earlier[row, where % BLOCK]
        if int(rank.min()) < 0 or int(rank.max()) >= len(self.exceptions):
            raise ValueError("an exception of a packed stream lies outside its data")
        values[escaped] = self.exceptions.take(rank)
        return values
