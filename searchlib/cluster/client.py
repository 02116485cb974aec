"""``ClusterIndex``: one searchlib index spread over the workers of a Dask cluster.

Articles go to shard ``crc32(id) % shards``; each shard has ``replicas`` copies, each an
ordinary searchlib index directory under the root path, kept open on a worker by a
``ShardReplica`` actor (``ReplicaSet`` reaches them). A write is acknowledged only when
every replica of its shard has committed.

Searches are exact and run as scatter-gather steps (``cluster.search``); a shard with
no answering replica makes the result partial, and says so in ``Results.shards``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from time import perf_counter
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import Synonyms
from searchlib.batch import BatchResult, WriteBatch, staged_records
from searchlib.cluster.catalog import CATALOG_FILE, Catalog, ClusterError, shard_of
from searchlib.cluster.ingest import FileReport, ingest_file, is_url
from searchlib.cluster.replicas import CALL_TIMEOUT, ReplicaSet
from searchlib.cluster.search import ScatterGather
from searchlib.errors import QueryError
from searchlib.ingest import STDIN, BadRecord, IngestSummary, input_files
from searchlib.query.arguments import check_search
from searchlib.query.collapse import Duplicate, collapse_bytes, duplicates_arguments
from searchlib.query.collectors import TRACK_TOTAL_HITS, Collectors
from searchlib.query.complete import (
    Completions,
    check_completion,
    merge_completions,
    newest_titles,
    title_word,
)
from searchlib.query.ranking import Ranking
from searchlib.query.results import Results
from searchlib.query.search import similar_query, similar_terms

__all__ = ["ClusterIndex", "shard_of"]


class ClusterIndex:
    """A sharded, replicated index with the ``Index`` API, on a Dask cluster."""

    def __init__(self, client: Any, root: Path, catalog: Catalog, *, own: Any = None) -> None:
        self.client = client
        self.root = root
        self.replicas = ReplicaSet(client, root, catalog)
        self._own_cluster = own  # a LocalCluster this object started (closed with it)
        self._searcher = ScatterGather(self.replicas)

    @property
    def catalog(self) -> Catalog:
        return self.replicas.catalog

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer every shard indexes and queries with."""
        return self._searcher.analyzer

    # -- opening ---------------------------------------------------------------------

    @staticmethod
    def _connect(address: str | None, workers: int) -> tuple[Any, Any]:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError(
                "a cluster index needs Dask distributed: pip install 'searchlib[cluster]'"
            ) from None
        if address is not None:
            return Client(address, timeout=30), None
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        return Client(cluster), cluster

    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        address: str | None = None,
        shards: int = 4,
        replicas: int = 1,
        analyzer: Analyzer | None = None,
        workers: int = 2,
        synonyms: Synonyms | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> ClusterIndex:
        """A new cluster index at ``root``, on the scheduler at ``address`` or on a
        ``LocalCluster`` of ``workers``; ``synonyms`` as ``Index.create`` takes them.

        Where the replicas live: under ``root``, a path every worker can read and
        write; or, with ``data_dir`` (an absolute path, ``{worker}`` standing for a
        worker's name), on each worker's own disk, no path shared between workers:
        ``root`` then holds only the catalog, on the client's machine, and a lost
        replica is copied from a healthy one between the workers (peer recovery)."""
        for name, value in (("shards", shards), ("replicas", replicas)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ClusterError(f"{name} must be a positive integer, not {value!r}")
        local = None if data_dir is None else os.fspath(data_dir)
        if local is not None and not os.path.isabs(local):
            raise ClusterError(f"data_dir must be an absolute path, not {local!r}")
        root = Path(root).absolute()
        if (root / CATALOG_FILE).exists():
            raise ClusterError(f"a cluster index already exists at {root}")
        catalog = Catalog(shards, replicas, data_dir=local, cluster_id=uuid.uuid4().hex)
        client, own = cls._connect(address, workers)
        index = cls(client, root, catalog, own=own)
        try:
            live = index.replicas.workers()
            if replicas > len(live):
                raise ClusterError(f"{replicas} replicas need as many workers; {len(live)} live")
            index.replicas.save()
            for shard in range(shards):
                for replica in range(replicas):
                    index.replicas.actor(shard, replica, analyzer, create=True)
            if synonyms is not None:
                index.set_synonyms(synonyms)
        except BaseException:
            index.close()
            raise
        return index

    @classmethod
    def open(
        cls, root: str | Path, *, address: str | None = None, workers: int = 2
    ) -> ClusterIndex:
        """The cluster index at ``root``; its replicas open on the cluster's workers."""
        root = Path(root).absolute()
        catalog = Catalog.read(root)
        client, own = cls._connect(address, workers)
        return cls(client, root, catalog, own=own)

    def close(self, *, release: bool = False) -> None:
        """Disconnect. The workers keep the replicas open for the cluster's other
        clients (the next ``open`` finds them ready); ``release=True`` closes them."""
        if release:
            self.replicas.shutdown()
        self.replicas.close()
        self.client.close()
        if self._own_cluster is not None:
            self._own_cluster.close()

    def __enter__(self) -> ClusterIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------

    def _write(self, method: str, parts: dict[int, tuple[Any, ...]]) -> list[Any]:
        self.replicas.refresh()
        try:
            # Every shard's write goes out before any is waited for: shards write in
            # parallel; each is acknowledged when all its replicas have committed.
            pending = [self.replicas.start_write(s, method, *args) for s, args in parts.items()]
            answers, errors = [], []
            for write in pending:
                try:
                    answers.append(self.replicas.finish_write(write))
                except ClusterError as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
            return answers
        finally:
            self.replicas.bump(sorted(parts))

    def _route(self, ids: Iterable[str]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for doc_id in ids:
            out.setdefault(shard_of(doc_id, self.catalog.shards), []).append(doc_id)
        return dict(sorted(out.items()))

    def add(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        """Add or replace (by id) articles; returns how many. Every record is checked
        before any is sent (a bad one raises ``DocumentError`` and nothing changes)."""
        records = staged_records([docs] if isinstance(docs, Mapping) else docs)
        return self._commit(list(records.values()), []).added

    def delete(self, ids: str | Iterable[str]) -> int:
        return self._commit([], [ids] if isinstance(ids, str) else list(ids)).deleted

    def batch(self) -> WriteBatch:
        """Adds and deletes sent together: one atomic commit per shard (each shard's
        part is all or nothing; shards commit one after another)."""
        return WriteBatch(self._commit)

    def _commit(self, adds: list[dict[str, Any]], deletes: list[str]) -> BatchResult:
        by_id = {doc["id"]: doc for doc in adds}
        add_parts, delete_parts = self._route(by_id), self._route(deletes)
        parts = {
            shard: ([by_id[i] for i in add_parts.get(shard, [])], delete_parts.get(shard, []))
            for shard in sorted(set(add_parts) | set(delete_parts))
        }
        if not parts:
            return BatchResult(0, 0)
        counts = self._write("apply", parts)
        return BatchResult(sum(a for a, _d in counts), sum(d for _a, d in counts))

    def add_files(
        self,
        paths: Iterable[str | Path],
        *,
        batch_size: int = 10_000,
        on_progress: Callable[[FileReport], None] | None = None,
    ) -> IngestSummary:
        """Index files (local paths every worker can read, or fsspec URLs): each read,
        checked and routed to its shards on a worker, files in parallel. Bad records
        are reported with file:line; a write not every replica acknowledged raises
        ``ClusterError`` after the other files are done (running again is safe)."""
        summary = IngestSummary()
        locations: list[str] = []
        for raw in paths:
            if str(raw) == STDIN:
                reason = "standard input is read by one index; save it where workers can read"
                summary.skip(BadRecord(STDIN, reason))
                continue
            if is_url(str(raw)):
                locations.append(str(raw))
                continue
            for item in input_files([str(raw).removeprefix("file://")]):
                if isinstance(item, BadRecord):
                    summary.skip(item)
                else:
                    locations.append(str(item.absolute()))
        from distributed import as_completed  # the optional extra, as in _connect

        self.replicas.refresh()
        actors = self.replicas.actors()
        futures = {
            self.client.submit(ingest_file, where, actors, batch_size, pure=False): where
            for where in locations
        }
        failed: list[str] = []
        try:
            for future in as_completed(futures):
                try:
                    report: FileReport = future.result(timeout=CALL_TIMEOUT * 10)
                except Exception as exc:  # the task's worker died: nothing is known
                    failed.append(f"{futures[future]}: {type(exc).__name__}: {exc}"[:300])
                    continue
                summary.add_up(report.summary)
                for shard, replica, why in report.failed:
                    failed.append(f"{report.location}: shard {shard} replica {replica}: {why}")
                    if shard in report.committed and not self.catalog.is_stale(shard, replica):
                        self.catalog.stale.append([shard, replica])
                    self.replicas.forget(shard, replica)
                if on_progress is not None:
                    on_progress(report)
        finally:
            self.replicas.bump()
        if failed:
            raise ClusterError(f"writes not acknowledged: {'; '.join(failed[:3])}")
        return summary

    # -- reads -----------------------------------------------------------------------------

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.replicas.read(shard_of(doc_id, self.catalog.shards), "get", doc_id)

    def count_existing(self, ids: Iterable[str]) -> int:
        answers, failures = self.replicas.scatter(
            {shard: (part,) for shard, part in self._route(ids).items()}, "count_existing"
        )
        if failures:
            raise ClusterError("; ".join(failures.values()))
        return sum(answers.values())

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.get(doc_id) is not None

    def _every_shard(self, method: str) -> list[Any]:
        calls: dict[int, tuple[Any, ...]] = dict.fromkeys(range(self.catalog.shards), ())
        answers, failures = self.replicas.scatter(calls, method)
        if failures:
            raise ClusterError("; ".join(failures.values()))
        return [answers[shard] for shard in range(self.catalog.shards)]

    def __len__(self) -> int:
        return sum(self._every_shard("count"))

    def stats(self) -> dict[str, Any]:
        """``Index.stats`` summed over shards (distinct terms: the largest shard's, a
        lower bound), with the shards' own under ``per_shard``."""
        per_shard = self._every_shard("stats")
        return {
            "path": str(self.root),
            "articles": sum(s["articles"] for s in per_shard),
            "deleted_pending_merge": sum(s["deleted_pending_merge"] for s in per_shard),
            "segments": sum(s["segments"] for s in per_shard),
            "distinct_terms": {
                name: max(s["distinct_terms"][name] for s in per_shard)
                for name in per_shard[0]["distinct_terms"]
            },
            "size_bytes": sum(s["size_bytes"] for s in per_shard),
            "last_commit": max((s["last_commit"] or 0) for s in per_shard) or None,
            "format_version": per_shard[0]["format_version"],
            "shards": self.catalog.shards,
            "replicas": self.catalog.replicas,
            "workers": len(self.replicas.workers()),
            "per_shard": per_shard,
        }

    def check(self) -> list[str]:
        problems = []
        for shard in range(self.catalog.shards):
            for replica in range(self.catalog.replicas):
                if self.catalog.is_stale(shard, replica):
                    problems.append(f"shard {shard} replica {replica}: stale")
                    continue
                try:
                    found = self.replicas.call(shard, replica, "check")
                except Exception as exc:
                    found = [f"unreachable ({type(exc).__name__})"]
                problems += [f"shard {shard} replica {replica}: {p}" for p in found]
        return problems

    def repair(self) -> list[tuple[int, int]]:
        """Bring every stale replica back (a copy of a healthy one); what was repaired.
        A stale replica is also repaired when it is next needed."""
        self.replicas.refresh()
        repaired = []
        for shard, replica in [tuple(pair) for pair in self.catalog.stale]:
            self.replicas.forget(shard, replica)
            self.replicas.actor(shard, replica)
            repaired.append((shard, replica))
        return repaired

    def status(self) -> dict[str, Any]:
        """Shards, replicas, their workers, counts and health (``search cluster status``)."""
        rows = []
        for shard in range(self.catalog.shards):
            for replica in range(self.catalog.replicas):
                row: dict[str, Any] = {"shard": shard, "replica": replica}
                if self.catalog.is_stale(shard, replica):
                    rows.append({**row, "health": "stale"})
                    continue
                try:
                    row["documents"] = self.replicas.call(shard, replica, "count")
                    row["health"] = "ok"
                except Exception as exc:
                    row["health"] = f"down ({type(exc).__name__})"
                rows.append(row)
        return {"workers": self.replicas.workers(), "replicas": rows}

    # -- search ----------------------------------------------------------------------------

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
        statistics: str = "global",
        collapse: bool | float = False,
    ) -> Results:
        """``Index.search`` over every shard, ranked exactly as one index would.

        ``statistics="shard"`` ranks each shard with its own document frequencies and
        lengths (Elasticsearch's ``query_then_fetch``): one round instead of three, and
        a ranking that can differ from one index's where shards differ."""
        started = perf_counter()
        if statistics not in ("global", "shard"):
            raise QueryError(f"statistics must be 'global' or 'shard', not {statistics!r}")
        checked = check_search(limit, offset, sort, ranking, filters, since, until)
        collectors = Collectors.of(facets, suggest, track_total_hits)
        return self._searcher.run(
            query, query, limit, offset, checked.filters, checked.bounds, sort,
            checked.ranking, (snippets, explain, snippet_size), started,
            collectors=collectors, synonyms=synonyms,
            shard_statistics=statistics == "shard", collapse=collapse_bytes(collapse),
        )  # fmt: skip

    def duplicates(self, doc_id: str, *, similarity: float | None = None) -> list[Duplicate]:
        """``Index.duplicates`` over every shard: the article's signature from the
        shard holding it, then every shard's copies, most similar first."""
        at_least = duplicates_arguments(doc_id, similarity)
        owner = shard_of(doc_id, self.catalog.shards)
        signature = self.replicas.read(owner, "search_step", "signature_of", doc_id)
        if signature is None:
            raise QueryError(f"no article with id {doc_id!r}")
        step = ("copies_of", signature, at_least, doc_id)
        parts, _failures = self.replicas.scatter(dict.fromkeys(range(self.catalog.shards), step))
        copies = [copy for _shard, part in sorted(parts.items()) for copy in part]
        return sorted(copies, key=lambda copy: -copy.similarity)

    @property
    def synonyms(self) -> Synonyms:
        """The synonyms queries are expanded with (every shard holds the same)."""
        return self._searcher.synonyms().synonyms

    def set_synonyms(self, synonyms: Synonyms | None) -> None:
        """Replace the synonyms on every replica (``None``: the shipped list)."""
        data = Synonyms.chosen(synonyms).to_data()
        try:
            self._write("set_synonyms", dict.fromkeys(range(self.catalog.shards), (data,)))
        finally:
            self._searcher.forget_synonyms()

    def complete(self, text: str, limit: int = 8, *, titles: int = 3) -> Completions:
        """``Index.complete`` over every shard: each shard's candidates (twice as many)
        with their counts summed, then the newest titles for the word chosen."""
        started = perf_counter()
        check_completion(text, limit, titles)
        calls = dict.fromkeys(range(self.catalog.shards), ("complete", text, limit * 2, 0))
        answers, _failures = self.replicas.scatter(calls)
        found = merge_completions(list(answers.values()), text, limit)
        if titles:
            asked = ("complete_titles", text, title_word(found.words), titles)
            parts, _failures = self.replicas.scatter(dict.fromkeys(answers, asked))
            found.titles = newest_titles(list(parts.values()), titles)
        found.took_ms = (perf_counter() - started) * 1000
        return found

    def similar(self, doc_id: str, limit: int = 10, *, ranking: Ranking | None = None) -> Results:
        """Articles most like ``doc_id``, as ``Index.similar`` chooses them (its terms'
        document frequencies summed over the shards)."""
        started = perf_counter()
        if not isinstance(doc_id, str):
            raise QueryError(f"similar() takes an article id (str), not {doc_id!r}")
        checked = check_search(limit, 0, "relevance", ranking, None, None, None)
        owner = shard_of(doc_id, self.catalog.shards)
        counts = self.replicas.read(owner, "search_step", "similar_counts", doc_id)
        if counts is None:
            raise QueryError(f"no article with id {doc_id!r}")
        calls = dict.fromkeys(range(self.catalog.shards), ("body_doc_freqs", list(counts)))
        answers, failures = self.replicas.scatter(calls)
        doc_freq: dict[str, int] = {}
        for _docs, freqs in answers.values():
            for term, freq in freqs.items():
                doc_freq[term] = doc_freq.get(term, 0) + freq
        doc_count = sum(docs for docs, _freqs in answers.values())
        tree = similar_query(similar_terms(counts, doc_freq, doc_count))
        more_like_this = replace(checked.ranking, coordination=False)
        return self._searcher.run(
            f"similar:{doc_id}", tree, limit, 0, {}, (None, None), "relevance", more_like_this,
            (False, False, 160), started, exclude=doc_id, failures=failures,
        )  # fmt: skip
