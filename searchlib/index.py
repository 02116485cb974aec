"""``Index``: the one object the library API, the CLI and the HTTP server share.

It owns an engine (searchlib's checksummed index files), the analyzer stored in the index, and
the write path: validate, analyze once, upsert, commit atomically. Searches run on the
current snapshot, which is refreshed when another writer (or process) commits.

>>> import tempfile, searchlib
>>> with searchlib.Index.create(tempfile.mkdtemp() + "/ix") as ix:
...     ix.add([{"id": "a", "title": "Pembangunan jalan", "body": "Pemerintah membangun jalan."}])
...     [hit.id for hit in ix.search("bangun")]
1
['a']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any

from searchlib.analysis import Analyzer, Token
from searchlib.analysis.synonyms import StoredSynonyms, Synonyms, SynonymTable
from searchlib.analysis.tokenizer import load_tokenizer
from searchlib.batch import BatchResult, WriteBatch, staged_records
from searchlib.document import Article, public_fields
from searchlib.engine import TEXT_FIELDS, Engine, EngineWriter, Snapshot, write_error
from searchlib.errors import (
    IndexCorruptError,
    IndexNotFoundError,
    IndexWriteError,
    QueryError,
    SearchlibError,
)
from searchlib.indexing import default_workers, write_segments
from searchlib.query.arguments import check_search
from searchlib.query.collapse import (
    Duplicate,
    collapse_bytes,
    duplicates_arguments,
    find_duplicates,
)
from searchlib.query.collectors import TRACK_TOTAL_HITS, Collectors
from searchlib.query.complete import Completions, complete, prepare_completion
from searchlib.query.ranking import DEFAULT_RANKING, Ranking
from searchlib.query.results import Results
from searchlib.query.search import run_search, run_similar
from searchlib.query.shard import ShardSearcher

__all__ = ["Index"]

Record = Article | Mapping[str, Any]
SYNONYMS = "synonyms"  # where a commit keeps the synonyms, as data


class Index:
    """A searchlib index directory. Thread-safe: share one instance in a process.

    Get one from ``Index.create``, ``Index.open`` or ``Index.open_or_create`` (the
    constructor takes the engine they open). ``stream_chunk``: records validated,
    analyzed and written per step of ``add`` (its memory bound).
    """

    stream_chunk: int = 20_000

    def __init__(
        self, engine: Engine, *, lock_timeout: float = 10.0, workers: int | None = None
    ) -> None:
        self._engine = engine
        self.lock_timeout = lock_timeout
        # Large batches are analyzed and written by this many processes.
        self.workers = default_workers() if workers is None else max(1, int(workers))
        # Writers of one process queue here instead of failing on the file lock.
        self._write_mutex = threading.Lock()
        self._synonyms = StoredSynonyms()  # the commit's, read by the analyzer

    def _save_stems(self) -> None:
        """Keep the stems computed so far with the index (when they are many), so
        re-indexing and later adds never stem a word twice."""
        self._engine.stems.save()

    # -- lifecycle -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        analyzer: Analyzer | None = None,
        synonyms: Synonyms | None = None,
        lock_timeout: float = 10.0,
        workers: int | None = None,
    ) -> Index:
        """Create a new, empty index in ``path`` (a missing or empty directory).

        ``synonyms``: applied to queries (default: the shipped Indonesian acronyms;
        ``Synonyms()`` for none); ``lock_timeout``: seconds a write waits for another
        process's writer; ``workers``: processes that analyze large batches (default:
        one per core).
        """
        chosen = Synonyms.chosen(synonyms)
        engine = Engine.create(path, analyzer or Analyzer(), {SYNONYMS: chosen.to_data()})
        return cls(engine, lock_timeout=lock_timeout, workers=workers)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = 10.0,
        workers: int | None = None,
        warm: bool = True,
    ) -> Index:
        """Open an existing index; ``IndexNotFoundError`` if there is none.

        ``warm``: build what the first search needs now (``Index.warm``), so the
        first query costs what any other does; an index that cannot be read opens all the
        same and its searches raise the error (``search check`` names what is wrong)."""
        index = cls(Engine.open(path), lock_timeout=lock_timeout, workers=workers)
        if warm:
            with suppress(SearchlibError):
                index.warm()
        return index

    def warm(self) -> None:
        """Build what the first search needs, as a search server's warmer does: the
        current commit's snapshot (live documents, lengths, dates), its synonyms read
        by the analyzer, and the tokenizer (ICU loaded). Later commits are read as
        searches meet them."""
        load_tokenizer()
        self._synonym_table(self._engine.snapshot())

    @classmethod
    def open_or_create(
        cls,
        path: str | os.PathLike[str],
        *,
        analyzer: Analyzer | None = None,
        synonyms: Synonyms | None = None,
        lock_timeout: float = 10.0,
        workers: int | None = None,
    ) -> Index:
        """Open the index in ``path``, or create one there if the directory is missing
        or empty."""
        try:
            return cls.open(path, lock_timeout=lock_timeout, workers=workers)
        except IndexNotFoundError:
            folder = Path(path)
            if folder.exists() and not folder.is_dir():
                raise
            return cls.create(
                path,
                analyzer=analyzer,
                synonyms=synonyms,
                lock_timeout=lock_timeout,
                workers=workers,
            )

    def close(self, *, wait_for_merges: bool = True) -> None:
        """Release the index. Background merges its commits asked for finish first
        (as Lucene's ``IndexWriter.close``: a batch job leaves few segments, not ten
        small ones); ``wait_for_merges=False`` stops after the running merge's current
        step and leaves the rest to the next writer."""
        self._engine.close(wait_for_merges=wait_for_merges)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        # Leaving on an error (or Ctrl-C) does not wait for merges.
        self.close(wait_for_merges=exc_type is None)

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r})"

    @property
    def path(self) -> Path:
        return self._engine.path

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer stored in this index (used for indexing and for queries)."""
        return self._engine.analyzer

    @property
    def synonyms(self) -> Synonyms:
        """The synonyms queries are expanded with (stored with the index's commits)."""
        return self._synonym_table(self._engine.snapshot()).synonyms

    def set_synonyms(self, synonyms: Synonyms | None) -> None:
        """Replace the synonyms (``None``: the shipped list; ``Synonyms()``: none), in
        one commit; searches use them at once, and nothing is re-indexed."""
        chosen = Synonyms.chosen(synonyms)
        with self._writing() as writer:
            writer.set_extra(SYNONYMS, chosen.to_data())
            writer.commit()

    def _synonym_table(self, snapshot: Snapshot) -> SynonymTable:
        """The synonyms of ``snapshot``'s commit, read by the analyzer once per change."""
        data = snapshot.commit.extra.get(SYNONYMS)
        return self._synonyms.table(data, self.analyzer, where=f"index at {str(self.path)!r}")

    # -- writing -------------------------------------------------------------------

    def batch(self) -> WriteBatch:
        """A batch of adds and deletes committed together (a context manager)."""
        return WriteBatch(self._commit)

    def add(self, docs: Record | Iterable[Record]) -> int:
        """Add or replace (by ``id``) articles in one atomic commit; returns how many.

        ``docs`` is a record or any iterable of records, generators included: it is
        streamed (``stream_chunk`` records at a time become segments that stay
        invisible until the one commit at the end), so memory stays bounded whatever
        its length. A bad record raises ``DocumentError`` naming it and the field, and
        the index is left unchanged.
        """
        if isinstance(docs, (Mapping, Article)):
            docs = [docs]
        if isinstance(docs, (str, bytes)):
            raise TypeError("add() takes a record or an iterable of records, not a string")
        iterator = iter(docs)
        first = list(islice(iterator, self.stream_chunk))
        if len(first) < self.stream_chunk:  # it all fits one batch
            return self._commit(list(staged_records(first).values()), []).added
        # This call's ids -> (its uncommitted segment, document number there), so a
        # later record with the same id replaces an earlier one.
        placed: dict[str, tuple[Any, int]] = {}
        with self._writing() as writer:
            segments: list[Any] = []
            chunk = first
            while chunk:
                staged = staged_records(chunk)
                fresh = []
                for doc_id in staged:
                    earlier = placed.get(doc_id)
                    if earlier is None:
                        fresh.append(doc_id)
                    else:
                        writer.delete_new(earlier[0], earlier[1])
                writer.delete_many(fresh)  # committed documents these replace
                records = list(staged.values())
                written = write_segments(self._engine, records, self.workers)
                numbers = (range(s.doc_count) for s in written)
                at = 0
                for segment, locals_ in zip(written, numbers, strict=True):
                    for local in locals_:
                        placed[records[at]["id"]] = (segment, local)
                        at += 1
                segments.extend(written)
                chunk = list(islice(iterator, self.stream_chunk))
            writer.commit(segments=segments)
        self._save_stems()
        return len(placed)

    def _commit(self, adds: list[dict[str, Any]], deletes: list[str]) -> BatchResult:
        """Apply validated adds (upserts) and deletes in one atomic commit."""
        if not adds and not deletes:
            return BatchResult(0, 0)
        with self._writing() as writer:
            deleted = writer.delete_many(deletes)
            writer.delete_many(doc["id"] for doc in adds)  # upserts replace
            segments = write_segments(self._engine, adds, self.workers)
            if adds or deleted:
                writer.commit(segments=segments)
            else:
                writer.cancel()
        self._save_stems()
        return BatchResult(len(adds), deleted)

    @contextmanager
    def _writing(self) -> Iterator[EngineWriter]:
        """A write session of this process's turn; cancelled (everything it wrote
        deleted) if the body raises, a failed write raised as ``IndexWriteError``."""
        with self._write_mutex:
            writer = self._engine.writer(self.lock_timeout)
            try:
                yield writer
            except BaseException as exc:
                if writer.is_open:
                    writer.cancel()
                if isinstance(exc, OSError) and not isinstance(exc, IndexWriteError):
                    raise write_error(self.path, "add", exc) from exc
                raise

    def delete(self, ids: str | Iterable[str]) -> int:
        """Delete articles by id in one commit; returns how many existed."""
        batch = self.batch()
        batch.delete(ids)
        return batch.commit().deleted

    def wait_for_merges(self) -> None:
        """Return when no background merge of this index runs or is pending. Commits
        return once durable and merges follow on a background thread; ``close``
        waits for them too."""
        self._engine.wait_for_merges()

    def optimize(self) -> None:
        """Merge all segments into one (faster searches after many small commits)."""
        with self._write_mutex:
            self._engine.writer(self.lock_timeout).commit(optimize=True)

    # -- reading -------------------------------------------------------------------

    def _live_docnum(self, doc_id: str) -> tuple[Any, int | None]:
        snapshot = self._engine.snapshot()
        docnum = snapshot.docnum_of(doc_id)
        if docnum is None or not snapshot.live[docnum]:
            return snapshot, None
        return snapshot, docnum

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored article with ``doc_id``, or None."""
        snapshot, docnum = self._live_docnum(doc_id)
        return None if docnum is None else public_fields(snapshot.stored(docnum))

    def count_existing(self, ids: Iterable[str]) -> int:
        """How many of ``ids`` are live articles of this index."""
        snapshot = self._engine.snapshot()
        return sum(1 for doc_id in ids if snapshot.docnum_of(doc_id) is not None)

    def __len__(self) -> int:
        return int(self._engine.snapshot().doc_count)

    def __contains__(self, doc_id: object) -> bool:
        # An id lookup only: no stored fields are read (ingestion asks this per record).
        return isinstance(doc_id, str) and self._live_docnum(doc_id)[1] is not None

    def ids(self) -> list[str]:
        """Every article id, in index order."""
        snapshot = self._engine.snapshot()
        return [snapshot.doc_id(d) for d in snapshot.live_docnums()]

    def documents(self) -> Iterator[dict[str, Any]]:
        """Every article as ``get`` gives it, in index order, from the commit current
        when iteration starts (later writes are not seen): each doc store block is
        decoded once, so the whole index streams (an export, a copy into another
        index: ``Index.add`` takes the articles as they come)."""
        for stored in self._engine.snapshot().stored_documents():
            yield public_fields(stored)

    def analyze(self, text: str) -> list[Token]:
        return self.analyzer.analyze(text)

    def search(
        self,
        query: str,
        limit: int = 10,
        offset: int = 0,
        filters: Mapping[str, str | Iterable[str]] | None = None,
        since: Any = None,
        until: Any = None,
        sort: str = "relevance",
        ranking: Ranking | None = None,
        *,
        snippets: bool = True,
        explain: bool = False,
        snippet_size: int = 160,
        facets: Iterable[str] | None = None,
        suggest: bool = False,
        track_total_hits: int | bool = TRACK_TOTAL_HITS,
        synonyms: bool = True,
        collapse: bool | float = False,
    ) -> Results:
        """Search; see ``searchlib.query`` for the query syntax.

        ``filters`` restricts ``category``/``source`` to a value or a list of values,
        ``since``/``until`` bound the publication date (inclusive; a string names a
        whole year, month or day), ``sort`` is ``relevance``, ``newest`` or ``oldest``.
        Only what is asked for is collected beside the page: ``facets`` names the
        fields to count matches by (``"category"``, ``"source"``), ``suggest`` looks
        up a "did you mean" (``Results.suggestion``). ``Results.total`` is exact up to
        ``track_total_hits`` matches (True: always); past it, when the page needs no
        full count, it is a lower bound and ``Results.total_relation`` is ``"gte"``.
        ``synonyms=False`` searches the words as typed (``Index.synonyms`` unused).
        ``collapse=True`` returns one hit per group of near-duplicate articles
        (syndicated copies), the best ranked, with the others in ``Hit.duplicates``;
        a number from 0 to 1 sets the similarity copies need (default 0.4).
        """
        started = perf_counter()
        checked = check_search(limit, offset, sort, ranking, filters, since, until)
        collapse_at = collapse_bytes(collapse)
        collectors = Collectors.of(facets, suggest, track_total_hits)
        snapshot = self._engine.snapshot()
        return run_search(
            snapshot,
            self.analyzer,
            query,
            limit=limit,
            offset=offset,
            filters=checked.filters,
            bounds=checked.bounds,
            sort=sort,
            ranking=checked.ranking,
            snippets=snippets,
            explain=explain,
            snippet_size=snippet_size,
            started=started,
            collectors=collectors,
            synonyms=self._synonym_table(snapshot) if synonyms else None,
            collapse=collapse_at,
        )

    def duplicates(self, doc_id: str, *, similarity: float | None = None) -> list[Duplicate]:
        """The near-duplicates of article ``doc_id`` (syndicated copies: the same
        story, another dateline or portal, a paragraph trimmed), most similar first;
        ``similarity`` (0 to 1, default 0.4) is the estimated share of word
        3-shingles a copy has in common with it."""
        at_least = duplicates_arguments(doc_id, similarity)
        snapshot = self._engine.snapshot()
        docnum = snapshot.docnum_of(doc_id)
        if docnum is None:
            raise QueryError(f"no article with id {doc_id!r}")
        return find_duplicates(snapshot, docnum, at_least)

    def complete(self, text: str, limit: int = 8, *, titles: int = 3) -> Completions:
        """Search as you type: ``limit`` completions of ``text``'s last word (the
        unstemmed forms articles hold, most frequent first, those in titles with the
        words already typed before them) and up to ``titles`` whole titles."""
        return complete(self._engine.snapshot(), self.analyzer, text, limit, titles)

    def prepare_completion(self) -> None:
        """Build the tables ``complete`` reads (once per segment; the first completion
        of a process builds them otherwise): a server calls it in the background."""
        prepare_completion(self._engine.snapshot())

    def backup(self, destination: str | os.PathLike[str], *, link: bool = False) -> Path:
        """A consistent copy of this index's last commit in ``destination`` (a new
        directory), taken while no write of any process runs; returns its path.
        ``link``: hard links where the file system allows, taken in an instant (index
        files never change once written, so the copy stays whole)."""
        target = Path(destination)
        if target.exists():
            raise IndexWriteError(f"backup destination {str(target)!r} already exists")
        with self._write_mutex:
            self._engine.copy_to(target, self.lock_timeout, link=link)
        return target

    def shard_searcher(self) -> ShardSearcher:
        """This index's current snapshot as a cluster shard answers searches."""
        snapshot = self._engine.snapshot()
        return ShardSearcher(snapshot, self.analyzer, self._synonym_table(snapshot))

    def similar(self, doc_id: str, limit: int = 10, *, ranking: Ranking | None = None) -> Results:
        """Articles most like ``doc_id`` (more-like-this over its most telling terms)."""
        started = perf_counter()
        if not isinstance(doc_id, str):
            raise QueryError(f"similar() takes an article id (str), not {doc_id!r}")
        return run_similar(
            self._engine.snapshot(),
            self.analyzer,
            doc_id,
            limit=limit,
            ranking=ranking or DEFAULT_RANKING,
            started=started,
        )

    # -- maintenance ---------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts and sizes: articles, distinct terms, bytes on disk, last commit, format."""
        from searchlib.engine.schema import FORMAT_VERSION

        snapshot = self._engine.snapshot()
        return {
            "path": str(self.path),
            "articles": snapshot.doc_count,
            "deleted_pending_merge": snapshot.max_doc - snapshot.doc_count,
            "segments": self._engine.segment_count(),
            "distinct_terms": {name: snapshot.vocabulary_size(name) for name in TEXT_FIELDS},
            "avg_length": dict(snapshot.avg_length),
            "size_bytes": self._engine.size_on_disk(),
            "last_commit": self._engine.last_commit_time(),
            "format_version": FORMAT_VERSION,
            "categories": len(snapshot.category_values),
            "sources": len(snapshot.source_values),
        }

    def check(self) -> list[str]:
        """Verify every file's checksum, and that segments, counts and ids agree.

        Returns the problems found (an empty list means healthy).
        """
        problems: list[str] = []
        try:
            snapshot = self._engine.verify()  # the commit whose files were verified
        except IndexCorruptError as exc:
            return [str(exc)]
        seen: dict[str, int] = {}
        for docnum in snapshot.live_docnums():
            try:
                stored = snapshot.stored(docnum)
            except IndexCorruptError as exc:
                problems.append(f"document {docnum}: stored fields unreadable ({exc})")
                continue
            doc_id = stored.get("id")
            if not isinstance(doc_id, str) or doc_id != snapshot.doc_id(docnum):
                problems.append(f"document {docnum}: its stored id differs from the id column")
                continue
            if doc_id in seen:
                problems.append(
                    f"id {doc_id!r} is stored twice (documents {seen[doc_id]}, {docnum})"
                )
            seen[doc_id] = docnum
        if len(seen) != snapshot.doc_count:
            problems.append(f"live document count {snapshot.doc_count} != readable ids {len(seen)}")
        for name in TEXT_FIELDS:
            lengths = snapshot.lengths[name]
            if (lengths < 0).any():
                problems.append(f"field {name!r}: negative document lengths")
        return problems
