"""``ClusterIndex``: one searchlib index spread over the workers of a Dask cluster.

Articles go to shard ``crc32(id) % shards``; each shard has ``replicas`` copies, each an
ordinary searchlib index directory under the root path, kept open on a worker by a
``ShardReplica`` actor (replica j of shard i on worker ``(i + j) % workers``). A write
is acknowledged only when every replica of its shard has committed; a replica that
failed a write is marked stale in the catalog and copied from a healthy one before it
serves again.

A search is exact: every shard reports the plan's document frequencies and its field
totals, the client sums them, every shard scores its matches with those global
statistics and returns its first ``offset + limit`` keys, the client merges them, and
only the final page's hits (with snippets) are fetched from their shards. A shard with
no answering replica makes the result partial, and says so in ``Results.shards``.
"""

from __future__ import annotations

import contextlib
import shutil
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from time import perf_counter
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.batch import staged_records
from searchlib.cluster.catalog import Catalog, ClusterError
from searchlib.cluster.replica import ShardReplica
from searchlib.query.arguments import check_search
from searchlib.query.ranking import Ranking
from searchlib.query.results import Hit, Results
from searchlib.query.search import FACET_LIMIT
from searchlib.query.statistics import GlobalStatistics, gather_statistics

__all__ = ["ClusterIndex", "shard_of"]

CALL_TIMEOUT = 120.0  # seconds an actor call may take before its replica counts as down


def shard_of(doc_id: str, shards: int) -> int:
    """The shard an article id belongs to: stable across processes and machines."""
    return zlib.crc32(doc_id.encode("utf-8")) % shards


class ClusterIndex:
    """A sharded, replicated index with the ``Index`` API, on a Dask cluster."""

    def __init__(self, client: Any, root: Path, catalog: Catalog, *, own: Any = None) -> None:
        self.client = client
        self.root = root
        self.catalog = catalog
        self._own_cluster = own  # a LocalCluster this object started (closed with it)
        self._actors: dict[tuple[int, int], Any] = {}

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
    ) -> ClusterIndex:
        """A new cluster index at ``root`` (a path every worker can read and write),
        on the scheduler at ``address`` or on a ``LocalCluster`` of ``workers``."""
        for name, value in (("shards", shards), ("replicas", replicas)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ClusterError(f"{name} must be a positive integer, not {value!r}")
        root = Path(root)
        if (root / "catalog.json").exists():
            raise ClusterError(f"a cluster index already exists at {root}")
        client, own = cls._connect(address, workers)
        index = cls(client, root, Catalog(shards, replicas, [], [0] * shards), own=own)
        try:
            live = index._workers()
            if replicas > len(live):
                raise ClusterError(f"{replicas} replicas need as many workers; {len(live)} live")
            index.catalog.write(root)
            for shard in range(shards):
                for replica in range(replicas):
                    index._actor(shard, replica, analyzer)
        except BaseException:
            index.close()
            raise
        return index

    @classmethod
    def open(
        cls, root: str | Path, *, address: str | None = None, workers: int = 2
    ) -> ClusterIndex:
        """The cluster index at ``root``; its replicas open on the cluster's workers."""
        root = Path(root)
        catalog = Catalog.read(root)
        client, own = cls._connect(address, workers)
        return cls(client, root, catalog, own=own)

    def close(self) -> None:
        for actor in self._actors.values():
            # A replica whose worker is gone has nothing to close.
            with contextlib.suppress(Exception):
                actor.close().result(timeout=10)
        self._actors.clear()
        self.client.close()
        if self._own_cluster is not None:
            self._own_cluster.close()

    def __enter__(self) -> ClusterIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- replicas ----------------------------------------------------------------------

    def _workers(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"])

    def _actor(self, shard: int, replica: int, analyzer: Analyzer | None = None) -> Any:
        """The replica's actor, created (on its worker, or any live one) when missing."""
        key = (shard, replica)
        actor = self._actors.get(key)
        if actor is not None:
            return actor
        live = self._workers()
        if not live:
            raise ClusterError("the cluster has no live workers")
        path = self.catalog.replica_path(self.root, shard, replica)
        if self.catalog.is_stale(shard, replica):
            self._repair(shard, replica, path)
        preferred = live[(shard + replica) % len(live)]
        future = self.client.submit(
            ShardReplica, str(path), analyzer, actor=True, workers=[preferred],
            allow_other_workers=True, pure=False,
        )  # fmt: skip
        actor = self._actors[key] = future.result(timeout=CALL_TIMEOUT)
        return actor

    def _repair(self, shard: int, replica: int, path: Path) -> None:
        """Copy a stale replica from a healthy one of the same shard."""
        for other in range(self.catalog.replicas):
            if other != replica and not self.catalog.is_stale(shard, other):
                source = self.catalog.replica_path(self.root, shard, other)
                shutil.rmtree(path, ignore_errors=True)
                shutil.copytree(source, path, ignore=shutil.ignore_patterns("*.lock", "*LOCK*"))
                self.catalog.stale.remove([shard, replica])
                self.catalog.write(self.root)
                return
        raise ClusterError(f"shard {shard} has no healthy replica to copy")

    def _call(self, shard: int, replica: int, method: str, *args: Any) -> Any:
        """One actor call; a replica that fails is forgotten (recreated next time)."""
        try:
            actor = self._actor(shard, replica)
            return getattr(actor, method)(*args).result(timeout=CALL_TIMEOUT)
        except ClusterError:
            raise
        except Exception:
            self._actors.pop((shard, replica), None)
            raise

    def _read(self, shard: int, method: str, *args: Any) -> tuple[Any, int]:
        """Ask the shard's replicas in turn until one answers: (answer, replica)."""
        errors = []
        replicas = [r for r in range(self.catalog.replicas) if not self.catalog.is_stale(shard, r)]
        for attempt in range(2):  # a second round recreates replicas whose worker died
            for replica in replicas:
                try:
                    return self._call(shard, replica, method, *args), replica
                except Exception as exc:
                    errors.append(f"replica {replica}: {type(exc).__name__}: {exc}"[:300])
            if attempt == 0 and not errors:
                break
        raise ClusterError(f"shard {shard}: no replica answered ({'; '.join(errors[-3:])})")

    def _write(self, shard: int, method: str, *args: Any) -> int:
        """Send a write to every replica of ``shard``; acknowledged when all commit."""
        futures, failed, counts = {}, [], []
        for replica in range(self.catalog.replicas):
            try:
                futures[replica] = getattr(self._actor(shard, replica), method)(*args)
            except Exception as exc:
                failed.append((replica, exc))
        for replica, future in futures.items():
            try:
                counts.append(future.result(timeout=CALL_TIMEOUT))
            except Exception as exc:
                self._actors.pop((shard, replica), None)
                failed.append((replica, exc))
        if failed:
            if len(failed) < self.catalog.replicas:
                for replica, _exc in failed:
                    if not self.catalog.is_stale(shard, replica):
                        self.catalog.stale.append([shard, replica])
                self.catalog.write(self.root)
            first, error = failed[0]
            raise ClusterError(
                f"write to shard {shard} not acknowledged: replica {first} failed "
                f"({type(error).__name__}: {error})"
            )
        return counts[0] if counts else 0

    # -- the Index API -------------------------------------------------------------------

    def add(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        """Add or replace (by id) articles; returns how many. Every record is checked
        before any is sent (a bad one raises ``DocumentError`` and nothing changes)."""
        records = list(staged_records([docs] if isinstance(docs, Mapping) else docs).values())
        by_shard: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            by_shard.setdefault(shard_of(record["id"], self.catalog.shards), []).append(record)
        return sum(self._write(shard, "add", part) for shard, part in sorted(by_shard.items()))

    def delete(self, ids: str | Iterable[str]) -> int:
        wanted = [ids] if isinstance(ids, str) else list(ids)
        by_shard: dict[int, list[str]] = {}
        for doc_id in wanted:
            by_shard.setdefault(shard_of(doc_id, self.catalog.shards), []).append(doc_id)
        return sum(self._write(shard, "delete", part) for shard, part in sorted(by_shard.items()))

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self._read(shard_of(doc_id, self.catalog.shards), "get", doc_id)[0]

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.get(doc_id) is not None

    def __len__(self) -> int:
        return sum(self._read(shard, "count")[0] for shard in range(self.catalog.shards))

    def stats(self) -> dict[str, Any]:
        per_shard = [self._read(shard, "stats")[0] for shard in range(self.catalog.shards)]
        return {
            "documents": sum(s["documents"] for s in per_shard),
            "shards": self.catalog.shards,
            "replicas": self.catalog.replicas,
            "workers": len(self._workers()),
            "size_bytes": sum(s["size_bytes"] for s in per_shard),
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
                    found = self._call(shard, replica, "check")
                except Exception as exc:
                    found = [f"unreachable ({type(exc).__name__})"]
                problems += [f"shard {shard} replica {replica}: {p}" for p in found]
        return problems

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
    ) -> Results:
        """``Index.search`` over every shard, ranked exactly as one index would."""
        started = perf_counter()
        checked = check_search(limit, offset, sort, ranking, filters, since, until)
        args = (checked.filters, checked.bounds)
        shards = range(self.catalog.shards)
        failures: dict[int, str] = {}
        answering: dict[int, int] = {}  # shard -> the replica that answered
        parts = []
        for shard in shards:
            try:
                part, answering[shard] = self._read(
                    shard, "statistics", query, *args, checked.ranking
                )
                parts.append(part)
            except ClusterError as exc:
                failures[shard] = str(exc)
        statistics: GlobalStatistics = gather_statistics(parts)
        keys: list[tuple[float, float, int, int, str]] = []
        total, suggestion = 0, None
        facets: dict[str, dict[str, int]] = {"category": {}, "source": {}}
        for shard in list(answering):
            try:
                page = self._call(
                    shard, answering[shard], "rank", query, offset + limit, *args, sort,
                    checked.ranking, statistics,
                )  # fmt: skip
            except Exception as exc:
                failures[shard] = f"shard {shard}: {type(exc).__name__}: {exc}"[:300]
                del answering[shard]
                continue
            total += page.total
            for name, counts in page.facets.items():
                for value, count in counts.items():
                    facets[name][value] = facets[name].get(value, 0) + count
            suggestion = suggestion or page.suggestion
            keys += [(p, s, shard, i, doc_id) for i, (p, s, doc_id) in enumerate(page.keys)]
        keys.sort(key=lambda k: (-k[0], -k[1], k[2], k[3]))
        chosen = keys[offset : offset + limit]
        hits: dict[str, Hit] = {}
        for shard in {k[2] for k in chosen}:
            mine = [(k[4], offset + i + 1, k[1]) for i, k in enumerate(chosen) if k[2] == shard]
            try:
                found = self._call(
                    shard, answering[shard], "hits", mine, query, checked.ranking, statistics,
                    snippets, explain, snippet_size,
                )  # fmt: skip
            except Exception as exc:
                failures[shard] = f"shard {shard}: {type(exc).__name__}: {exc}"[:300]
                continue
            hits.update((hit.id, hit) for hit in found)
        page_hits = [hits[k[4]] for k in chosen if k[4] in hits]
        top_facets = {
            name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT])
            for name, counts in facets.items()
        }
        took = (perf_counter() - started) * 1000
        results = Results(query, page_hits, total, took, top_facets, suggestion, offset, limit)
        results.shards = {
            "total": self.catalog.shards,
            "successful": self.catalog.shards - len(failures),
            "failed": len(failures),
            "failures": [{"shard": s, "reason": r} for s, r in sorted(failures.items())],
        }
        return results

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
                    row["documents"] = self._call(shard, replica, "count")
                    row["health"] = "ok"
                except Exception as exc:
                    row["health"] = f"down ({type(exc).__name__})"
                rows.append(row)
        return {"workers": self._workers(), "replicas": rows}
