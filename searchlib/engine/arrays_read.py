"""Reading a segment postings file (``engine.arrays`` describes its layout).

``SegmentArrays`` maps one file and checks its per-document columns when it is opened
(``check_columns``); ``FieldArrays`` is one field's term table and postings, checked
the first time the field is read (``SegmentArrays.field``: sizes and the ends of its
offsets) while each read checks the offsets it uses, and whole by ``validate``
(``search check``, merges). A crafted file thus fails as damaged, naming itself, not
deep in a query, and opening reads no term table.
"""

from __future__ import annotations

import itertools
import mmap
from pathlib import Path

import numpy as np

from searchlib.engine.arrayfile import map_file, read_arrays
from searchlib.engine.arrays import (
    COLUMN,
    FIELD_PARTS,
    POSITION_PARTS,
    absolute,
    concat_ranges,
    term_key,
)
from searchlib.engine.blockmax import BLOCK_PARTS, BlockAccumulator, block_span
from searchlib.engine.packed import STREAM_SUFFIXES, PackedInts, encode
from searchlib.engine.prefixes import PrefixIndex, bisect_terms
from searchlib.engine.schema import SCORED_LENGTH, SIGNATURE_COLUMN
from searchlib.engine.signature import SIGNATURE_BYTES
from searchlib.errors import IndexCorruptError

__all__ = ["FieldArrays", "SegmentArrays"]

_EMPTY_INT = np.zeros(0, dtype=np.int64)


class FieldArrays:
    """One field's postings in a segment: the arrays ``ArrayFileWriter`` describes."""

    def __init__(self, parts: dict[str, np.ndarray], where: str = "a postings file") -> None:
        self.where = where  # named in errors: the file and field
        self.doc_count = int(np.iinfo(np.int32).max)  # bounds documents once validated
        self.hash = parts["hash"]
        self.blob = parts["blob"]
        self.term_offsets = parts["terms"]
        self.lex = parts["lex"]
        self.posts = parts["posts"]
        self.first = parts["first"]
        self.gaps = _stream(parts, "gaps")
        self.tfs = _stream(parts, "tfs")  # each frequency less one
        # Positional fields only; empty elsewhere (`positional` says which).
        self.positional = "positions" in parts
        self.pstart = parts.get("pstart", np.zeros(len(self.hash) + 1, dtype=np.int64))
        self.positions = _stream(parts, "positions") if self.positional else _NO_POSITIONS
        # Scored fields only: per block of postings, the largest frequency and the
        # smallest length (``engine.blockmax``); None elsewhere.
        self.block_max = parts.get("blockmax")
        self.block_min = parts.get("blockmin")
        sizes = parts.get("blocksize")
        self.block_size = int(sizes[0]) if sizes is not None and len(sizes) == 1 else 0
        self.prefixes = PrefixIndex(self)  # frequent terms by prefix, computed on demand

    def validate(self, doc_count: int, *, full: bool = False) -> None:
        """Raise ``ValueError`` unless the arrays fit together: their lengths and the
        ends of their offsets at once (what a damaged or crafted file would break
        first), with ``full`` every offset ascending and every document in range
        too (``search check``, merges). Without ``full`` the reads check the part of
        the arrays they use (``_span``, ``_docs_in_range``), so opening a field reads
        none of its term table."""
        self.doc_count = doc_count
        terms = len(self.hash)
        sized = {
            "terms": (len(self.term_offsets), terms + 1),
            "lex": (len(self.lex), terms),
            "posts": (len(self.posts), terms + 1),
            "first": (len(self.first), terms),
            "pstart": (len(self.pstart), terms + 1),
        }
        for part, (found, expected) in sized.items():
            if found != expected:
                raise ValueError(f"{part} holds {found} values, not {expected}")
        postings = len(self.gaps)
        ends = {
            "terms": (self.term_offsets, len(self.blob)),
            "posts": (self.posts, postings),
            "pstart": (self.pstart, len(self.positions) if self.positional else 0),
        }
        for part, (offsets, end) in ends.items():
            if terms and (int(offsets[0]) != 0 or int(offsets[-1]) != end):
                raise ValueError(f"{part} does not span its data")
            if full and terms and bool(np.any(offsets[1:] < offsets[:-1])):
                raise ValueError(f"{part} is not ascending")
        if len(self.tfs) != postings:
            raise ValueError("frequencies and postings differ in number")
        for stream in (self.gaps, self.tfs, self.positions):
            stream.validate(full=full)
        if self.block_max is not None or self.block_min is not None:
            if self.block_max is None or self.block_min is None or self.block_size <= 0:
                raise ValueError("the block maxima are incomplete")
            blocks = -(-postings // self.block_size)
            if len(self.block_max) != blocks or len(self.block_min) != blocks:
                raise ValueError(f"the block maxima are not {blocks} blocks")
        if full and terms:
            if not (int(self.first.min()) >= 0 and int(self.first.max()) < doc_count):
                raise ValueError("a posting names a document outside the segment")
            if int(self.lex.min()) < 0 or int(self.lex.max()) >= terms:
                raise ValueError("the term order names a missing term")

    def check(self, doc_count: int, *, full: bool = False) -> None:
        """``validate``, a misfit raised as ``IndexCorruptError`` naming the file."""
        try:
            self.validate(doc_count, full=full)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._damaged(str(exc)) from exc

    def check_blocks(self, lengths: np.ndarray) -> None:
        """Raise ``IndexCorruptError`` unless every block's stored frequency and length
        bound its postings (``lengths``: each document's length in the field): a
        crafted bound below a score would drop a document from the page it belongs
        to. Recomputed a range of terms at a time (``search check``)."""
        if self.block_max is None or self.block_min is None:
            return
        accumulator = BlockAccumulator(self.block_size)
        terms = len(self.hash)
        step = max(1, terms * 1_000_000 // max(self.posting_count, 1))
        for first in range(0, terms, step):
            last = min(terms, first + step)
            low, high = self._span(first, last)
            docs = self.docs_between(first, last)
            accumulator.feed(self.frequencies(low, high), np.asarray(lengths)[docs])
        highest, lowest = accumulator.finish()
        if bool(np.any(highest > self.block_max)) or bool(np.any(lowest < self.block_min)):
            raise self._damaged("a block's maxima are below its postings")

    def blocks(self, low: int, high: int) -> tuple[int, np.ndarray, np.ndarray] | None:
        """The blocks of postings ``low`` to ``high - 1``: the first one's number and
        each one's largest frequency and smallest length; None without block maxima."""
        if self.block_max is None or self.block_min is None:
            return None
        first, last = block_span(low, high, self.block_size)
        return first, self.block_max[first:last], self.block_min[first:last]

    def _damaged(self, what: str) -> IndexCorruptError:
        return IndexCorruptError(f"{self.where} is damaged: {what}")

    def _span(self, first: int, last: int) -> tuple[int, int]:
        """The postings of terms ``first`` to ``last - 1`` (``posts[first]``,
        ``posts[last]``), checked to lie in the file."""
        if not 0 <= first <= last <= len(self.hash):
            raise self._damaged(f"term {last} is outside its table")
        low, high = int(self.posts[first]), int(self.posts[last])
        if not 0 <= low <= high <= len(self.gaps):
            raise self._damaged(f"the postings of term {first} lie outside the file")
        return low, high

    def lex_terms(self, low: int = 0, high: int | None = None) -> np.ndarray:
        """Term numbers ``lex[low:high]`` (byte order), checked to name real terms."""
        chosen = self.lex[low:high].astype(np.int64)
        if len(chosen) and (int(chosen.min()) < 0 or int(chosen.max()) >= len(self.hash)):
            raise self._damaged("the term order names a missing term")
        return chosen

    def _docs_in_range(self, docs: np.ndarray) -> np.ndarray:
        if len(docs) and (int(docs.min()) < 0 or int(docs.max()) >= self.doc_count):
            raise self._damaged("a posting names a document outside the segment")
        return docs

    def __len__(self) -> int:
        return len(self.hash)

    def term(self, index: int) -> bytes:
        if not 0 <= index < len(self.hash):
            raise self._damaged(f"term {index} is outside its table")
        start, end = self.term_offsets[index : index + 2].tolist()
        return self.blob[start:end].tobytes()

    def find(self, term: bytes, key: np.uint64) -> int:
        """The term number of ``term``, or -1."""
        index = int(self.hash.searchsorted(key))
        while index < len(self.hash) and self.hash[index] == key:
            if self.term(index) == term:
                return index
            index += 1
        return -1

    def frequencies_of(self, keys: np.ndarray) -> np.ndarray:
        """The document frequency of each term hash in ``keys`` (0 where absent): many
        terms at once, by hash alone."""
        out = np.zeros(len(keys), dtype=np.int64)
        if not len(self.hash) or not len(keys):
            return out
        at = np.minimum(np.searchsorted(self.hash, keys), len(self.hash) - 1)
        hit = self.hash[at] == keys
        out[hit] = self.doc_frequencies(at[hit])
        return np.maximum(out, 0)  # a crafted table's counts never go negative

    def doc_frequencies(self, terms: np.ndarray) -> np.ndarray:
        """The number of postings of each term number in ``terms`` (int64; offsets may
        be stored as uint32, whose differences must not wrap)."""
        return self.posts[terms + 1].astype(np.int64) - self.posts[terms].astype(np.int64)

    @property
    def posting_count(self) -> int:
        return int(self.posts[-1]) if len(self.posts) else 0

    def docs_between(self, first: int, last: int) -> np.ndarray:
        """The document numbers of terms ``first`` to ``last - 1``, in posting order."""
        low, high = self._span(first, last)
        running = np.cumsum(self._read(self.gaps, low, high))
        counts: np.ndarray = np.diff(self.posts[first : last + 1].astype(np.int64))
        if last - first > 1 and bool(np.any(counts < 0)):
            raise self._damaged(f"the postings of terms {first} to {last} are not ascending")
        starts = self.posts[first:last].astype(np.int64) - low
        if high == low:
            return np.zeros(0, dtype=np.int64)
        if bool(np.any(starts >= high - low)):
            raise self._damaged(f"a term among {first} to {last} has no postings")
        # Each term restarts from its first document (its first gap is 0).
        base = self.first[first:last].astype(np.int64) - running[starts]
        return self._docs_in_range(running + np.repeat(base, counts))

    def term_docs(self, index: int) -> np.ndarray:
        """The document numbers of term ``index`` (what most reads ask for: a few
        whole-array steps, its range checked at its ends since gaps are unsigned)."""
        low, high = self._span(index, index + 1)
        if high == low:
            raise self._damaged(f"term {index} has no postings")
        docs = self._read(self.gaps, low, high)
        docs[0] = int(self.first[index])  # its first gap is 0
        np.cumsum(docs, out=docs)
        if int(docs[0]) < 0 or int(docs[-1]) >= self.doc_count:
            raise self._damaged("a posting names a document outside the segment")
        return docs

    def frequencies(self, low: int, high: int, dtype: type = np.int64) -> np.ndarray:
        """The term frequencies of postings ``low`` to ``high - 1``."""
        found = self._read(self.tfs, low, high, dtype)
        found += 1
        return found

    def _read(self, stream: PackedInts, low: int, high: int, dtype: type = np.int64) -> np.ndarray:
        try:
            return stream.range(low, high, dtype)
        except (ValueError, IndexError) as exc:
            raise self._damaged(str(exc)) from exc

    def postings(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        low, high = self._span(index, index + 1)
        # Narrow (the snapshot caches them): below 2**16 when the exceptions are bytes.
        narrow = np.uint16 if self.tfs.bytes == 1 else np.uint32
        return self.term_docs(index), self.frequencies(low, high, narrow)

    def stored_positions(self, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The stored positions (first whole, then steps) of the postings whose
        positions start at ``starts`` and number ``counts``, one after another."""
        wanted = concat_ranges(starts, counts)
        try:
            if not len(wanted):
                return wanted
            low, high = int(wanted[0]), int(wanted[-1]) + 1
            if len(wanted) * 4 >= high - low:  # dense: decode the span and pick
                return self.positions.range(low, high)[wanted - low]
            return self.positions.take(wanted)
        except (ValueError, IndexError) as exc:
            raise self._damaged(str(exc)) from exc

    def positions_flat(self, index: int, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (document, position) of term ``index`` in ``docs`` (ascending,
        distinct segment numbers), as two parallel arrays."""
        term_docs, counts = self.postings(index)
        return self.positions_in(index, term_docs, counts, docs)

    def positions_in(
        self, index: int, term_docs: np.ndarray, counts: np.ndarray, docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``positions_flat`` from term ``index``'s postings already read (its
        documents and frequencies, as ``postings`` gives them, in any numbering that
        ``docs`` shares and the answer keeps): the documents asked for are searched
        among the postings (a phrase asks about few of a common word's), and only
        their positions are decoded."""
        counts = counts.astype(np.int64)
        ends = np.cumsum(counts)
        begin = int(self.pstart[index])
        total = int(ends[-1]) if len(ends) else 0
        if not 0 <= begin <= begin + total <= len(self.positions):
            raise self._damaged(f"the positions of term {index} lie outside the file")
        if not len(term_docs) or not len(docs):
            return _EMPTY_INT, _EMPTY_INT
        where = np.searchsorted(term_docs, docs)
        inside = where < len(term_docs)
        where = where[inside]
        chosen = where[term_docs[where] == docs[inside]]
        counts = counts[chosen]
        steps = self.stored_positions(begin + ends[chosen] - counts, counts)
        return np.repeat(term_docs[chosen].astype(np.int64), counts), absolute(steps, counts)

    def terms_with_prefix(self, prefix: bytes) -> list[tuple[bytes, int]]:
        """``(term, document frequency)`` of every term starting with ``prefix``."""
        lex = self.lex
        low = bisect_terms(self, prefix)
        found = []
        for index in lex[low:].tolist():
            term = self.term(index)
            if not term.startswith(prefix):
                break
            found.append((term, int(self.posts[index + 1]) - int(self.posts[index])))
        return found

    def vocabulary(self) -> dict[bytes, int]:
        """Every term with its document frequency."""
        blob = self.blob.tobytes()
        offsets = self.term_offsets.tolist()
        frequencies = np.diff(self.posts.astype(np.int64)).tolist()
        return {
            blob[a:b]: df
            for (a, b), df in zip(itertools.pairwise(offsets), frequencies, strict=True)
        }


def _stream(parts: dict[str, np.ndarray], name: str) -> PackedInts:
    return PackedInts({suffix: parts[f"{name}{suffix}"] for suffix in STREAM_SUFFIXES})


_NO_POSITIONS = PackedInts(encode(np.zeros(0, dtype=np.int64)))


class SegmentArrays:
    """Read side of one segment's postings file (memory-mapped)."""

    def __init__(
        self, data: dict[str, np.ndarray], mapped: mmap.mmap | None = None, path: Path | None = None
    ) -> None:
        self._data = data
        self._path = path
        self._mapped = mapped
        self._fields: dict[str, FieldArrays] = {}
        # Fields are checked when first read (``field``), for a segment of this many
        # documents (``check_columns`` sets it): opening reads no term table.
        self._doc_count: int | None = None
        self._checked: set[str] = set()
        names = {
            key.removesuffix(".hash")
            for key in data
            if key.endswith(".hash") and not key.startswith(COLUMN)
        }
        for name in names:
            parts = {part: data[f"{name}.{part}"] for part in FIELD_PARTS}
            for part in (*POSITION_PARTS, *BLOCK_PARTS):
                if f"{name}.{part}" in data:
                    parts[part] = data[f"{name}.{part}"]
            self._fields[name] = FieldArrays(parts, f"index file {str(path)!r}, field {name!r},")

    @classmethod
    def load(cls, path: Path) -> SegmentArrays:
        """The arrays at ``path``; ``IndexCorruptError`` when unreadable or damaged."""
        try:
            mapped = map_file(path)
        except FileNotFoundError:
            raise  # merged away meanwhile: the caller opens the newer commit
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"index file {str(path)!r} is unreadable: {exc}") from exc
        try:
            return cls(read_arrays(path, mapped), mapped, path)
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
            raise IndexCorruptError(f"index file {str(path)!r} is damaged: {exc}") from exc

    def validate(self, doc_count: int, *, blocks: bool = False) -> None:
        """Raise ``IndexCorruptError`` unless the file's columns and every field fit a
        segment of ``doc_count`` documents (``search check``, merges); ``blocks``
        recomputes the scored fields' block maxima too (``search check``)."""
        self.check_columns(doc_count)
        for name, found in self._fields.items():
            found.check(doc_count, full=True)
            self._checked.add(name)
            length = SCORED_LENGTH.get(name)
            if blocks and length is not None:
                column = self.column(length)
                if column is not None:
                    found.check_blocks(column)

    def field(self, name: str) -> FieldArrays | None:
        """Field ``name``'s postings (None if the segment has none), checked to fit the
        segment the first time it is read: ``IndexCorruptError`` if they do not."""
        found = self._fields.get(name)
        if found is None or name in self._checked:
            return found
        # A file read on its own, not as a segment: documents bounded by their type.
        found.check(found.doc_count if self._doc_count is None else self._doc_count)
        self._checked.add(name)
        return found

    @property
    def field_names(self) -> list[str]:
        return list(self._fields)

    def check_columns(self, doc_count: int) -> None:
        """Raise ``IndexCorruptError`` unless the per-document columns and the id table
        fit a segment of ``doc_count`` documents (cheap: opening a segment does it);
        its fields are then checked as they are first read."""
        self._doc_count = doc_count
        try:
            for key, array in self._data.items():
                sized = key.endswith((".codes", ".docs", ".hash")) or "." not in key
                if key.startswith(COLUMN) and sized and len(array) != doc_count:
                    raise ValueError(f"column {key!r} holds {len(array)} values")
                # Counts and dates are unsigned, in any width (counts are stored narrow).
                if key.startswith(COLUMN) and "." not in key and array.dtype.kind != "u":
                    raise ValueError(f"column {key!r} holds {array.dtype} values")
            ids = self._data.get(f"{COLUMN}id.docs")
            if ids is None or (len(ids) and int(ids.max()) >= doc_count):
                raise ValueError("the id table is missing or names a missing document")
            offsets = self._data[f"{COLUMN}id.stroffsets"]
            strings = self._data[f"{COLUMN}id.strings"]
            if offsets.dtype.kind not in "ui":
                raise ValueError("the id offsets are not integers")
            if len(offsets) != doc_count + 1 or int(offsets[-1]) != len(strings):
                raise ValueError("the ids do not span their data")
            if bool(np.any(offsets[1:] < offsets[:-1])):
                raise ValueError("the id offsets are not ascending")
            signatures = self._data.get(f"{COLUMN}{SIGNATURE_COLUMN}")
            if signatures is None or len(signatures) != doc_count * SIGNATURE_BYTES:
                raise ValueError("the near-duplicate signatures are missing or cut short")
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"index file {str(self._path)!r} is damaged: {exc}") from exc

    def array(self, name: str) -> np.ndarray:
        """A named array of the file (``KeyError`` if it has none)."""
        return self._data[name]

    def column(self, name: str) -> np.ndarray | None:
        """A numeric per-document column saved with the segment, if it was."""
        return self._data.get(f"{COLUMN}{name}")

    def signatures(self) -> np.ndarray:
        """Each document's near-duplicate signature, one row of ``SIGNATURE_BYTES``
        (checked to fit the segment when it was opened: ``check_columns``)."""
        return self._data[f"{COLUMN}{SIGNATURE_COLUMN}"].reshape(-1, SIGNATURE_BYTES)

    def ids(self) -> list[str] | None:
        """Each document's id, if saved (and readable)."""
        blob = self._data.get(f"{COLUMN}id.strings")
        offsets = self._data.get(f"{COLUMN}id.stroffsets")
        if blob is None or offsets is None:
            return None
        data = blob.tobytes()
        try:
            return [data[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets.tolist())]
        except UnicodeDecodeError:
            return None

    def id_at(self, doc: int) -> str:
        """Document ``doc``'s id (one id decoded, not the column)."""
        offsets = self._data[f"{COLUMN}id.stroffsets"]
        start, end = offsets[doc : doc + 2].tolist()
        raw = self._data[f"{COLUMN}id.strings"][start:end].tobytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IndexCorruptError(
                f"index file {str(self._path)!r}: the id of document {doc} is damaged"
            ) from exc

    def id_documents(self, wanted: list[str], keys: np.ndarray) -> list[tuple[int, int]]:
        """``(i, document)`` for every document whose id is ``wanted[i]``; ``keys`` are
        the wanted ids' hashes (``hash_terms`` of their UTF-8 bytes)."""
        hashes = self._data.get(f"{COLUMN}id.hash")
        if hashes is None or not len(wanted):
            return []
        docs = self._data[f"{COLUMN}id.docs"]
        blob = self._data[f"{COLUMN}id.strings"]
        offsets = self._data[f"{COLUMN}id.stroffsets"]
        low = np.searchsorted(hashes, keys, side="left")
        high = np.searchsorted(hashes, keys, side="right")
        found = []
        for index in np.flatnonzero(high > low).tolist():
            wanted_bytes = wanted[index].encode("utf-8")
            for at in range(int(low[index]), int(high[index])):
                doc = int(docs[at])
                start, end = offsets[doc : doc + 2].tolist()
                if blob[start:end].tobytes() == wanted_bytes:
                    found.append((index, doc))
        return found

    def labels(self, name: str) -> tuple[np.ndarray, list[str]] | None:
        """A string column as (per-document codes, -1 for none; the strings)."""
        codes = self._data.get(f"{COLUMN}{name}.codes")
        if codes is None:
            return None
        blob = self._data[f"{COLUMN}{name}.blob"].tobytes()
        offsets = self._data[f"{COLUMN}{name}.offsets"].tolist()
        try:
            strings = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
        except UnicodeDecodeError:
            return None
        if len(codes) and not -1 <= int(codes.min()) <= int(codes.max()) < len(strings):
            return None  # damaged
        return codes, strings

    def release(self) -> None:
        """Drop the pages of the file this process has read from its resident memory
        (they stay in the page cache): a merge reads whole files once."""
        if self._mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._mapped.madvise(mmap.MADV_DONTNEED)

    def has_field(self, field: str) -> bool:
        return field in self._fields

    def doc_frequency(self, field: str, term: bytes, key: np.uint64) -> int:
        """The postings of ``term`` in ``field`` here, counted without decoding them
        (deleted documents included)."""
        arrays = self.field(field)
        if arrays is None:
            return 0
        index = arrays.find(term, key)
        if index < 0:
            return 0
        posts = arrays.posts  # one term's count: two reads, no arrays made
        return max(0, int(posts[index + 1]) - int(posts[index]))

    def postings(
        self, field: str, term: str | bytes, key: np.uint64 | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Segment doc numbers and frequencies of ``term``; None if it is not there.
        ``key`` (``term_key``) saves hashing the term again for every segment."""
        arrays = self.field(field)
        if arrays is None:
            return None
        wanted = term.encode("utf-8") if isinstance(term, str) else term
        index = arrays.find(wanted, term_key(wanted) if key is None else key)
        return None if index < 0 else arrays.postings(index)
