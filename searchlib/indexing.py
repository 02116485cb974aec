"""Turning validated articles into engine fields, in this process or in worker processes.

``engine_document`` analyzes a record once (stems and exact forms share the analysis).
``build_segments`` spreads a large batch over worker processes: each analyzes its share
and writes a complete, not yet visible segment; the caller then publishes all of them
in one atomic commit. Workers are forked, so they start with the parent's stem cache and
classified surface forms, and return what they learned so the parent keeps it.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.analysis.stemmer import STEMS, StemCache
from searchlib.analysis.tokenizer import HYPHENS
from searchlib.dates import to_timestamp
from searchlib.engine import TEXT_FIELDS, Engine
from searchlib.engine.memory import release_free_memory
from searchlib.engine.schema import EngineDocument
from searchlib.engine.segment import write_segment
from searchlib.engine.signature import Signer

__all__ = [
    "PARALLEL_MIN_DOCS",
    "build_segments",
    "default_workers",
    "engine_document",
    "write_segments",
]

# The fields of a validated record the index stores (and gives back).
STORED_KEYS = ("id", "title", "body", "url", "published", "category", "source", "related", "extra")
# Below this many documents a batch is written in-process: forking costs more.
PARALLEL_MIN_DOCS = 2000


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# Signs bodies for collapsing copies; its word hashes are the same in every process.
SIGNER = Signer()


def engine_document(analyzer: Analyzer, doc: dict[str, Any]) -> EngineDocument:
    """What the engine writes for one validated record, its text analyzed once."""
    text = {name: analyzer.index_text(doc[name]) for name in TEXT_FIELDS}
    return EngineDocument(
        id=doc["id"],
        stored={name: doc[name] for name in STORED_KEYS},
        text=text,
        published_ts=to_timestamp(doc["published"]) if doc["published"] else None,
        signature=SIGNER.sign(text["body"].words),
    )


# What the workers of the running build_segments call work on. Set just before the
# workers are forked, so they inherit it (and the analyzer's caches) instead of
# receiving pickled copies.
_job: tuple[list[list[dict[str, Any]]], Analyzer] | None = None


def _current_job() -> tuple[list[list[dict[str, Any]]], Analyzer]:
    if _job is None:  # pragma: no cover - only reachable if not forked by build_segments
        raise RuntimeError("no bulk indexing job in this process")
    return _job


def _stems(analyzer: Analyzer) -> StemCache:
    """The stem cache the analyzer's stem step uses (the index's)."""
    cache = analyzer.stem_cache
    return STEMS if cache is None else cache


def _learned_since(
    stems: set[str], surfaces: set[str], analyzer: Analyzer
) -> tuple[dict[str, str], dict[str, Any]]:
    """The stems and classified surface forms this worker added to its caches."""
    new_stems = {w: s for w, s in _stems(analyzer).export().items() if w not in stems}
    new_surfaces = {w: i for w, i in analyzer.cached_surfaces().items() if w not in surfaces}
    return new_stems, new_surfaces


def _worker(path: str, part: int) -> tuple[Any, dict[str, str], dict[str, Any]]:
    parts, analyzer = _current_job()  # the parent's analyzer: the index's, caches warm
    stems, surfaces = set(_stems(analyzer).export()), set(analyzer.cached_surfaces())
    # A segment needs only the folder: no engine opened (marker, commit, stems) per worker.
    segment = write_segment(Path(path), (engine_document(analyzer, doc) for doc in parts[part]))
    return segment, *_learned_since(stems, surfaces, analyzer)


# Words as a plain regex sees them: enough to find what a batch will ask the analyzer
# (ICU may cut differently; what is missed is classified later, as before).
_WORDS = re.compile(rf"\w+(?:[{re.escape(HYPHENS)}]\w+)*")


def _classify_share(part: int) -> tuple[dict[str, str], dict[str, Any]]:
    """Classify (and so stem) the new words of part ``part`` that fall to it by hash:
    words shared by several parts are then classified by one worker, not by all."""
    parts, analyzer = _current_job()
    stems, surfaces = set(_stems(analyzer).export()), set(analyzer.cached_surfaces())
    words: set[str] = set()
    for doc in parts[part]:
        for name in TEXT_FIELDS:
            words.update(_WORDS.findall(doc[name]))
    # str hashes agree between forked processes (same hash seed as the parent).
    for word in words:
        if word not in surfaces and hash(word) % len(parts) == part:
            analyzer.term(word)  # classifies the word into the analyzer's cache
    return _learned_since(stems, surfaces, analyzer)


def build_segments(
    path: str, docs: list[dict[str, Any]], workers: int, analyzer: Analyzer
) -> list[Any]:
    """Write ``docs`` as new segments of the index at ``path`` using ``workers``
    processes; returns the segments (not yet committed). ``analyzer`` is the index's
    analyzer in this process: workers start from its cache and it learns theirs."""
    global _job
    chunks = max(workers, (len(docs) + 4999) // 5000)
    size = (len(docs) + chunks - 1) // chunks
    parts = [docs[i : i + size] for i in range(0, len(docs), size)]
    context = multiprocessing.get_context("fork")
    _job = (parts, analyzer)
    try:
        if len(analyzer.cached_surfaces()) < len(docs):
            # A cold start (this process has classified few words yet): every worker
            # would stem the batch's common new words on its own. Share that out first.
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for stems, surfaces in pool.map(_classify_share, range(len(parts))):
                    _stems(analyzer).update(stems)
                    analyzer.remember_surfaces(surfaces)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_worker, [path] * len(parts), range(len(parts))))
    finally:
        _job = None
    for _segment, stems, surfaces in results:
        _stems(analyzer).update(stems)
        analyzer.remember_surfaces(surfaces)
    return [segment for segment, _stems, _surfaces in results]


def write_segments(engine: Engine, docs: list[dict[str, Any]], workers: int) -> list[Any]:
    """Write validated records as new, not yet visible segments: by ``workers``
    processes for a large batch, else in this process."""
    if not docs:
        return []
    if workers > 1 and len(docs) >= PARALLEL_MIN_DOCS:
        segments = build_segments(str(engine.path), docs, workers, engine.analyzer)
        release_free_memory()  # the workers' results, unpickled and adopted
        return segments
    analyzer = engine.analyzer
    return [engine.write_segment(engine_document(analyzer, doc) for doc in docs)]
