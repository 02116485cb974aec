"""The stem cache kept with an index (``stems.json.gz``): every word stemmed so far.

Cold stemming is the largest single cost of building an index; keeping the stems
beside the index means re-indexing, incremental adds and a restarted process never
stem the same word twice. The file is a cache: written atomically, tagged with the
stemmer version, and ignored if it is missing, damaged or from another version.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from searchlib.analysis.stemmer import STEMS
from searchlib.engine.storage import write_atomically

__all__ = ["STEM_FILE", "load_stem_cache", "save_stem_cache"]

STEM_FILE = "stems.json.gz"
_RULES = 1  # bump when searchlib changes how it calls the stemmer


def _tag() -> str:
    try:
        sastrawi = version("PySastrawi")
    except PackageNotFoundError:
        sastrawi = "unknown"
    return f"PySastrawi {sastrawi}; searchlib rules {_RULES}"


def load_stem_cache(folder: Path) -> int:
    """Preload the stems saved with the index; returns the process's cache size."""
    path = Path(folder) / STEM_FILE
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError, zlib.error):
        data = json.loads(gzip.decompress(path.read_bytes()))
        if isinstance(data, dict) and data.get("stemmer") == _tag():
            stems = data.get("stems")
            if isinstance(stems, dict):
                STEMS.update(stems)
    return len(STEMS)


def save_stem_cache(folder: Path) -> int:
    """Write this process's stems beside the index (atomically); returns how many."""
    stems = STEMS.export()
    payload = gzip.compress(json.dumps({"stemmer": _tag(), "stems": stems}).encode(), 5)
    with contextlib.suppress(OSError):  # a cache: a full disk only costs stemming again
        write_atomically(Path(folder) / STEM_FILE, payload)
    return len(stems)
