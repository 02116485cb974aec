"""The stem cache kept with an index (``stems.slt``): every word stemmed so far.

Cold stemming is the largest single cost of building an index; keeping the stems beside
the index means re-indexing, incremental adds and a restarted process never stem the
same word twice. The file is a postings-style arrays file (``engine.arrays``: checksum
footer, checked table): words ordered by their 64-bit hash, their stems, and the
stemmer's version. Opening verifies its checksum and maps it, nothing more: a word is
looked up (a binary search) only when the analyzer first meets it, so no stem is
decoded before it is needed. New stems stay in memory (``StemCache``) and are
merged into a new file, written atomically, when they reach a quarter of the file (and
when the index closes). It is a cache: a missing, damaged or other version's file is
ignored, and a full disk only costs stemming again.
"""

from __future__ import annotations

import itertools
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from searchlib.analysis import Analyzer, Stem, StemCache
from searchlib.engine.arrayfile import ArrayFileWriter
from searchlib.engine.arrays import hash_terms, term_key
from searchlib.engine.arrays_read import SegmentArrays
from searchlib.engine.checksum import verify
from searchlib.errors import IndexCorruptError

__all__ = ["STEM_FILE", "IndexStems", "StemFile", "with_index_stems"]

STEM_FILE = "stems.slt"
_RULES = 1  # bump when searchlib changes how it calls the stemmer
SAVE_AT_LEAST = 2_000  # new stems before a save is worth a rewrite


def stemmer_tag() -> str:
    try:
        sastrawi = version("PySastrawi")
    except PackageNotFoundError:
        sastrawi = "unknown"
    return f"PySastrawi {sastrawi}; searchlib rules {_RULES}"


def _blob(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    return np.frombuffer(b"".join(values), dtype=np.uint8), offsets


class StemFile:
    """A saved stem table, memory-mapped; ``get`` looks one word up."""

    def __init__(self, arrays: SegmentArrays) -> None:
        self._arrays = arrays
        self._hash = arrays.array("hash")
        self._words = arrays.array("words")
        self._word_offsets = arrays.array("word_offsets")
        self._stems = arrays.array("stems")
        self._stem_offsets = arrays.array("stem_offsets")
        count = len(self._hash)
        if (
            len(self._word_offsets) != count + 1
            or len(self._stem_offsets) != count + 1
            or (count and int(self._word_offsets[-1]) != len(self._words))
            or (count and int(self._stem_offsets[-1]) != len(self._stems))
        ):
            raise ValueError("the stem table's arrays do not fit together")

    @classmethod
    def open(cls, folder: Path) -> StemFile | None:
        """The index's stem file, or None (missing, damaged, another stemmer's)."""
        path = Path(folder) / STEM_FILE
        if not path.is_file():  # missing (or not a regular file: never opened)
            return None
        try:
            verify(path)  # whole: a flipped stem would silently change terms
            arrays = SegmentArrays.load(path)
            if arrays.array("tag").tobytes().decode("utf-8") != stemmer_tag():
                return None
            return cls(arrays)
        except (IndexCorruptError, KeyError, ValueError, UnicodeDecodeError, OSError):
            return None

    def __len__(self) -> int:
        return len(self._hash)

    def get(self, word: str) -> str | None:
        wanted = word.encode("utf-8")
        key = term_key(wanted)
        at = int(self._hash.searchsorted(key))
        while at < len(self._hash) and self._hash[at] == key:
            start, end = self._word_offsets[at : at + 2].tolist()
            if self._words[start:end].tobytes() == wanted:
                low, high = self._stem_offsets[at : at + 2].tolist()
                return self._stems[low:high].tobytes().decode("utf-8")
            at += 1
        return None

    def items(self) -> dict[str, str]:
        """Every saved stem (for a rewrite)."""
        words = self._words.tobytes()
        stems = self._stems.tobytes()
        return {
            words[a:b].decode("utf-8"): stems[c:d].decode("utf-8")
            for (a, b), (c, d) in zip(
                itertools.pairwise(self._word_offsets.tolist()),
                itertools.pairwise(self._stem_offsets.tolist()),
                strict=True,
            )
        }


def write_stem_file(folder: Path, stems: dict[str, str]) -> StemFile | None:
    """Write ``stems`` as the index's stem file (atomically); None if it failed."""
    words = [w.encode("utf-8") for w in stems]
    hashes = hash_terms(words)
    order = np.argsort(hashes, kind="stable")
    ordered_words = [words[i] for i in order.tolist()]
    values = list(stems.values())
    ordered_stems = [values[i].encode("utf-8") for i in order.tolist()]
    path = Path(folder) / STEM_FILE
    try:
        writer = ArrayFileWriter(path)
        try:
            word_blob, word_offsets = _blob(ordered_words)
            stem_blob, stem_offsets = _blob(ordered_stems)
            writer.add("hash", hashes[order])
            writer.add("words", word_blob)
            writer.add("word_offsets", word_offsets)
            writer.add("stems", stem_blob)
            writer.add("stem_offsets", stem_offsets)
            writer.add("tag", np.frombuffer(stemmer_tag().encode("utf-8"), dtype=np.uint8))
        except BaseException:
            writer.abort()
            raise
        writer.close()
    except OSError:
        return None  # a cache: a full disk only costs stemming again
    return StemFile.open(folder)


class IndexStems:
    """An index's stem cache: its stem file behind a ``StemCache`` of new stems.

    Another process writing the index (a writer process, a cluster replica's writing
    child) saves its stems to the file; a reader adopts that file when its snapshot
    moves on (``refresh``), so it never stems again what the writer stemmed."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._identity = self._file_identity()
        self.cache = StemCache(StemFile.open(self.folder))

    def _file_identity(self) -> tuple[int, int, int] | None:
        try:
            info = (self.folder / STEM_FILE).stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def refresh(self) -> bool:
        """Adopt the stem file if another process replaced it since it was read
        (the stems computed here stay in memory, still to be saved); True if so."""
        identity = self._file_identity()
        if identity is None or identity == self._identity:
            return False
        self._identity = identity
        found = StemFile.open(self.folder)
        if found is None:
            return False
        self.cache.backing = found
        return True

    def save(self, *, force: bool = False) -> None:
        """Merge the new stems into the file when they are many (or ``force``)."""
        saved = self.cache.backing
        size = len(saved) if saved is not None else 0
        unsaved = len(self.cache)  # counted, not copied: this runs after every commit
        if not unsaved or (not force and unsaved < max(SAVE_AT_LEAST, size // 4)):
            return
        new = self.cache.export()
        current = StemFile.open(self.folder)  # another process may have saved since
        merged = current.items() if current is not None else {}
        merged.update(new)
        written = write_stem_file(self.folder, merged)
        if written is not None:
            self._identity = self._file_identity()
            self.cache.saved(written)


def with_index_stems(analyzer: Analyzer, stems: IndexStems) -> Analyzer:
    """``analyzer`` with its stem step drawing on the index's stem cache."""
    if not isinstance(analyzer.step("stem"), Stem):
        return analyzer  # no stemming: nothing to cache
    return analyzer.replace("stem", Stem(stems.cache))
