"""Near-duplicate signatures: a MinHash of each article's body, written at index time.

A syndicated story reaches the archive several times: the same text under another
portal's dateline, a paragraph trimmed, a sentence rewritten. Such copies share most
of their word 3-shingles (three consecutive words), different stories on one topic
very few. ``Signer.sign`` turns a body's analysis into ``SIGNATURE_BYTES`` one-byte
minimum hashes (b-bit minwise hashing, Li and Koenig 2010: 64 permutations, each
keeping the low 8 bits of its minimum): two bodies agree on a given byte with
probability ``J + (1 - J) / 256``, J the Jaccard similarity of their shingle sets,
so ``similarity`` estimates J from the bytes that agree. 64 bytes per article.

The words are the body's normalized surface forms in text order (``AnalyzedText.words``:
not stems, since a copy keeps its words and a different story on the same topic shares
stems more than phrases; no stopwords, no compound parts), and
their hashes are CRC-32s (Python's ``hash`` differs between processes, and every
process that writes a segment must sign alike). A body with fewer than
``MIN_WORDS`` words gets the empty signature (all zero bytes): it is nobody's copy.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = [
    "DEFAULT_SIMILARITY",
    "MIN_WORDS",
    "SIGNATURE_BYTES",
    "Signer",
    "agreeing_bytes",
    "similarity",
]

SIGNATURE_BYTES = 64
# Shorter bodies are left unsigned: a few shared words say nothing about copying.
MIN_WORDS = 8
SHINGLE = 3
# The estimated Jaccard similarity from which two articles count as copies (chosen
# on benchmarks/eval_duplicates.py's development set; docs/relevance.md).
DEFAULT_SIMILARITY = 0.4
_CHANCE = 1 / 256  # two different minima agree on their low byte by chance

# The permutations of 32-bit shingle hashes: fixed odd multipliers and offsets (a
# seeded generator, so every process and version signs alike; changing them changes
# the index format).
_RANDOM = np.random.default_rng(20261203)
_MULTIPLY = _RANDOM.integers(0, 2**31, SIGNATURE_BYTES, dtype=np.uint32) * np.uint32(2) + 1
_ADD = _RANDOM.integers(0, 2**32, SIGNATURE_BYTES, dtype=np.uint32)
# Mixing a shingle's three word hashes into one 64-bit value.
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
# Word hashes a signer remembers (the words of an archive recur; bounded memory).
CACHE_WORDS = 200_000


class Signer:
    """Signs analyzed bodies; remembers the hashes of the words it has seen."""

    def __init__(self) -> None:
        self._word_hashes: dict[str, int] = {}

    def sign(self, words: list[str]) -> bytes:
        """The signature of a text whose normalized words, in order, are ``words``
        (``AnalyzedText.words``)."""
        if len(words) < MIN_WORDS:
            return bytes(SIGNATURE_BYTES)
        known = self._word_hashes
        values = list(map(known.get, words))
        if None in values:
            if len(known) >= CACHE_WORDS:
                known.clear()
            for word in set(words).difference(known):
                known[word] = zlib.crc32(word.encode("utf-8")) + 1  # never 0
            values = list(map(known.__getitem__, words))
        hashed = np.array(values, dtype=np.int64).astype(np.uint64)
        mixed = hashed[: 1 - SHINGLE] * _MIX[0] + hashed[1 : 1 - SHINGLE + 1] * _MIX[1]
        mixed += hashed[SHINGLE - 1 :] * _MIX[2]
        shingles = (mixed ^ (mixed >> np.uint64(32))).astype(np.uint32)
        permuted = shingles[:, None] * _MULTIPLY + _ADD
        # The order comes from the high bits, the byte kept from the low ones.
        return (permuted.min(axis=0) & np.uint32(0xFF)).astype(np.uint8).tobytes()


def agreeing_bytes(similarity_threshold: float) -> int:
    """How many of the ``SIGNATURE_BYTES`` bytes two signatures must share to be
    copies at ``similarity_threshold`` (estimated Jaccard similarity)."""
    if not 0.0 < similarity_threshold <= 1.0:
        raise ValueError(f"a similarity is above 0 and at most 1, not {similarity_threshold!r}")
    expected = similarity_threshold + (1 - similarity_threshold) * _CHANCE
    return max(1, int(np.ceil(expected * SIGNATURE_BYTES - 1e-9)))


def similarity(agreeing: np.ndarray | int) -> np.ndarray:
    """The Jaccard similarity estimated from how many bytes two signatures share."""
    observed = np.asarray(agreeing, dtype=np.float64) / SIGNATURE_BYTES
    return np.clip((observed - _CHANCE) / (1 - _CHANCE), 0.0, 1.0)
