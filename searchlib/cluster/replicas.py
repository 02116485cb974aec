"""How a cluster client reaches its shards: a ``ShardHost`` actor per worker, keeping
that worker's replicas open (``cluster.host``).

``ReplicaSet`` opens each replica on its worker (replica j of shard i on worker ``(i +
j) % workers``, or any live one), forgets a replica whose call failed so the next call
opens it again (from disk), and offers the three ways of calling: ``read`` (one
replica that answers), ``write`` (every replica; acknowledged only when all commit, a
failed one marked stale; ``bump`` records it) and ``scatter`` (one step on every shard
at once, in one request per worker carrying all of its shards, each shard falling back
to its other replicas). It also keeps the catalog current: a write bumps its
generations, and another client's write is seen when the catalog file changes.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchlib.analysis import Analyzer
from searchlib.analysis.synonyms import SynonymError
from searchlib.cluster.catalog import CATALOG_FILE, Catalog, ClusterError
from searchlib.cluster.endpoint import ask_workers
from searchlib.cluster.host import ReplicaHandle, ShardHost
from searchlib.errors import AnalyzerError, DocumentError, IndexNotFoundError, QueryError

# A caller's own error, the same from any replica: raised at once, never retried on
# another replica, and the replica that raised it stays healthy. Anything else (a lost
# worker or connection, a damaged replica) fails over.
CALLER_ERRORS = (QueryError, DocumentError, AnalyzerError, SynonymError)

__all__ = ["CALL_TIMEOUT", "RECOVERY_TIMEOUT", "PendingWrite", "ReplicaSet", "WorkerPlan"]

CALL_TIMEOUT = 120.0  # seconds an actor call may take before its replica counts as down
RESULT_POLL = 0.05  # seconds between looks at whether a slow call's worker still runs
RECOVERY_TIMEOUT = 3600.0  # seconds a peer recovery may take (it copies a whole replica)


@dataclass
class WorkerPlan:
    """One worker's part of a rank round (``ReplicaSet.worker_rounds``)."""

    ranked: list[tuple[int, int]]  # (shard, replica) it ranks
    sources: list[tuple[int, int]]  # a replica of every shard, for statistics (or none)


@dataclass
class _Host:
    """A worker's ShardHost as this client holds it: the actor, and the future it came
    from, whose status errs within milliseconds of the worker's death (a call to a dead
    worker would otherwise wait out Dask's connect retries)."""

    actor: Any
    future: Any


@dataclass
class PendingWrite:
    """A write sent to a shard's replicas, not yet acknowledged."""

    shard: int
    futures: dict[int, Any] = field(default_factory=dict)
    addresses: dict[int, str] = field(default_factory=dict)  # each replica's worker
    failed: list[tuple[int, BaseException]] = field(default_factory=list)


class ReplicaSet:
    def __init__(self, client: Any, root: Path, catalog: Catalog) -> None:
        self.client = client
        self.root = root
        self.catalog = catalog
        self._actors: dict[tuple[int, int], ReplicaHandle] = {}
        self._hosts: dict[str, _Host] = {}  # worker address -> its ShardHost
        self._creating = threading.RLock()  # one actor per replica (a repair nests)
        self._turns: dict[int, int] = {}  # by shard: reads rotate over its replicas
        self._stamp = self._catalog_stamp()

    # -- the catalog -----------------------------------------------------------------

    def _catalog_stamp(self) -> tuple[int, int]:
        try:
            info = (self.root / CATALOG_FILE).stat()
        except OSError:
            return (0, 0)
        return (info.st_mtime_ns, info.st_size)

    def refresh(self) -> int:
        """Re-read the catalog if another client changed it; its generation."""
        stamp = self._catalog_stamp()
        if stamp != self._stamp:
            self.catalog = Catalog.read(self.root)
            self._stamp = stamp
        return self.catalog.generation

    def save(self) -> None:
        self.catalog.write(self.root)
        self._stamp = self._catalog_stamp()

    # -- actors ----------------------------------------------------------------------

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"])

    def actor(
        self, shard: int, replica: int, analyzer: Analyzer | None = None, create: bool = False
    ) -> ReplicaHandle:
        """The replica's handle, opened (on its worker, or any live one) when missing;
        ``create``: a new replica, made with ``analyzer``."""
        key = (shard, replica)
        actor = self._actors.get(key)
        if actor is not None:
            return actor
        with self._creating:
            actor = self._actors.get(key)
            if actor is None:
                actor = self._actors[key] = self._create(shard, replica, analyzer, create)
            return actor

    def _create(
        self, shard: int, replica: int, analyzer: Analyzer | None, create: bool
    ) -> ReplicaHandle:
        names = self.worker_names()
        if not names:
            raise ClusterError("the cluster has no live workers")
        address = self._place(shard, replica, names)
        path = self.catalog.replica_location(self.root, shard, replica, names[address])
        if self.catalog.is_stale(shard, replica):
            self._repair(shard, replica, address, path)
        host = self._host(address)
        try:
            try:
                host.open(shard, replica, str(path), analyzer, create).result(timeout=CALL_TIMEOUT)
            except IndexNotFoundError:
                # Its directory is gone (a lost disk): recovered, never served empty.
                if not self.catalog.is_stale(shard, replica):
                    self.catalog.stale.append([shard, replica])
                self._repair(shard, replica, address, path)
                host.open(shard, replica, str(path), None, False).result(timeout=CALL_TIMEOUT)
        except IndexNotFoundError:
            raise
        except Exception:
            self._hosts.pop(address, None)  # its worker may be gone: a new one next time
            raise
        return ReplicaHandle(host, address, shard, replica)

    def _place(self, shard: int, replica: int, names: dict[str, str]) -> str:
        """The live worker to open a replica on. On the shared root, any (replica j of
        shard i on worker (i + j) % workers); on local disks, the worker it is placed
        on, or, when that worker is gone, another one (preferring one holding no other
        replica of the shard), and the replica must then be recovered from a peer."""
        live = sorted(names)
        chosen = live[(shard + replica) % len(live)]
        if self.catalog.data_dir is None:
            return chosen
        key = f"{shard}/{replica}"
        placed = self.catalog.placement.get(key)
        by_name = {name: address for address, name in names.items()}
        if placed in by_name:
            return by_name[placed]
        if placed is not None:  # its worker is gone, and its disk with it
            taken = {
                self.catalog.placement.get(f"{shard}/{other}")
                for other in range(self.catalog.replicas)
                if other != replica
            }
            free = [address for address in live if names[address] not in taken]
            chosen = free[(shard + replica) % len(free)] if free else chosen
            if not self.catalog.is_stale(shard, replica):
                self.catalog.stale.append([shard, replica])
        self.catalog.placement[key] = names[chosen]
        self.save()
        return chosen

    def _host(self, address: str) -> Any:
        """The ShardHost actor of the worker at ``address`` for this cluster index."""
        host = self._hosts.get(address)
        if host is None:
            host = self._hosts[address] = self._shared_host(address)
        return host.actor

    def _host_alive(self, address: str) -> bool:
        """Whether the host this client knows on ``address`` still runs (its actor's
        future turns to an error within milliseconds of its worker's death)."""
        host = self._hosts.get(address)
        return host is not None and host.future.status == "finished"

    def _result(self, address: str, future: Any) -> Any:
        """An actor call's result (``future``), waited for while the host on
        ``address`` runs: ``ConnectionError`` as soon as its worker is known gone (a
        call to a dead worker would wait out Dask's connect retries, 30 s)."""
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            try:
                return future.result(timeout=RESULT_POLL)
            except TimeoutError:
                if future.done():  # it finished meanwhile (or raised a timeout of its own)
                    return future.result()
                if time.monotonic() > deadline:
                    raise
                if not self._host_alive(address):
                    raise ConnectionError(f"the worker at {address} is gone") from None

    def _round(self, requests: dict[str, tuple[str, str, bytes]]) -> dict[str, Any]:
        """One request to each worker at once (``cluster.endpoint``), by address."""
        return ask_workers(self.client, requests, CALL_TIMEOUT, self._host_alive)

    def _host_name(self, address: str) -> str:
        return f"searchlib-host/{self.catalog.cluster_id or self.root}/{address}"

    def _shared_host(self, address: str) -> _Host:
        """The worker's ShardHost, shared by every client of this cluster index: the
        first client starts it and publishes it on the scheduler (a published dataset
        keeps the actor alive after that client leaves), later clients (another
        process, a ``search`` command) find its replicas already open. One whose
        worker was lost is unpublished and started again."""
        name = self._host_name(address)
        for _attempt in range(3):
            try:
                future = self.client.get_dataset(name)
            except KeyError:
                future = self.client.submit(
                    ShardHost,
                    name,
                    actor=True,
                    workers=[address],
                    allow_other_workers=False,
                    pure=False,
                )
                try:
                    self.client.publish_dataset(future, name=name)
                except KeyError:  # another client published its own first: take that one
                    self.client.cancel(future)
                    continue
            try:
                return _Host(future.result(timeout=CALL_TIMEOUT), future)
            except Exception:  # its worker is gone (or restarted at the same address)
                with contextlib.suppress(KeyError):
                    self.client.unpublish_dataset(name)
        raise ClusterError(f"could not start the shard host of the worker at {address}")

    def actors(self) -> list[list[Any]]:
        """Every replica's actor, by shard (for tasks that write from the workers)."""
        return [
            [self.actor(shard, replica) for replica in range(self.catalog.replicas)]
            for shard in range(self.catalog.shards)
        ]

    def _repair(self, shard: int, replica: int, address: str, path: Path) -> None:
        """Rebuild a stale replica at ``path`` on the worker at ``address`` by peer
        recovery from a healthy replica of the same shard (``ShardHost.recover``)."""
        errors = []
        for other in range(self.catalog.replicas):
            if other == replica or self.catalog.is_stale(shard, other):
                continue
            try:
                source = self.actor(shard, other)
                target = self._host(address)
                target.recover(shard, replica, str(path), source.host, other).result(
                    timeout=RECOVERY_TIMEOUT
                )
            except Exception as exc:
                errors.append(f"from replica {other}: {type(exc).__name__}: {exc}"[:300])
                self.forget(shard, other)
                continue
            self.catalog.stale.remove([shard, replica])
            self.save()
            return
        raise ClusterError(
            f"shard {shard} has no healthy replica to recover replica {replica} from"
            + (f" ({'; '.join(errors)})" if errors else "")
        )

    def worker_names(self) -> dict[str, str]:
        """The live workers: address -> name (stable across a worker's restarts)."""
        workers = self.client.scheduler_info()["workers"]
        return {address: str(info.get("name", address)) for address, info in workers.items()}

    def forget(self, shard: int, replica: int) -> None:
        """Forget a replica whose call failed (opened again at its next call), and its
        host too when its worker is gone."""
        handle = self._actors.pop((shard, replica), None)
        if handle is not None and handle.address not in self.workers():
            self._hosts.pop(handle.address, None)

    def close(self) -> None:
        """Forget this client's handles; the hosts and their replicas stay open for
        the cluster's other clients (``shutdown`` closes them)."""
        self._actors.clear()
        self._hosts.clear()

    def shutdown(self) -> None:
        """Close every replica on every worker and unpublish the hosts (the cluster
        index is no longer served until a client opens it again)."""
        for address in self.workers():
            name = self._host_name(address)
            future = self.client.get_dataset(name, default=None)
            if future is None:
                continue  # no host there: nothing to close (none is started to close it)
            with contextlib.suppress(Exception):  # a host whose worker is gone
                future.result(timeout=CALL_TIMEOUT).close().result(timeout=10)
            with contextlib.suppress(KeyError):
                self.client.unpublish_dataset(name)
        self.close()

    # -- calls -----------------------------------------------------------------------

    def healthy(self, shard: int, *, advance: bool = True) -> list[int]:
        """The shard's replicas that may serve, starting from this turn's (``advance``:
        the next call starts from the next replica)."""
        found = [r for r in range(self.catalog.replicas) if not self.catalog.is_stale(shard, r)]
        turn = self._turns.get(shard, 0)
        if advance:
            self._turns[shard] = turn + 1
        start = turn % len(found) if found else 0
        return found[start:] + found[:start]

    def call(self, shard: int, replica: int, method: str, *args: Any) -> Any:
        """One actor call; a replica that fails is forgotten (recreated next time)."""
        try:
            handle = self.actor(shard, replica)
            return self._result(handle.address, getattr(handle, method)(*args))
        except (ClusterError, *CALLER_ERRORS):
            raise
        except Exception:
            self.forget(shard, replica)
            raise

    def read(self, shard: int, method: str, *args: Any) -> Any:
        """Ask the shard's replicas in turn until one answers."""
        errors = []
        for _round in range(2):  # the second round recreates replicas whose worker died
            for replica in self.healthy(shard):
                try:
                    return self.call(shard, replica, method, *args)
                except CALLER_ERRORS:
                    raise
                except Exception as exc:
                    errors.append(f"replica {replica}: {type(exc).__name__}: {exc}"[:300])
        raise ClusterError(f"shard {shard}: no replica answered ({'; '.join(errors[-3:])})")

    def scatter(
        self,
        calls: dict[int, tuple[Any, ...]],
        method: str = "search_step",
        *,
        prefer: dict[int, int] | None = None,
        answered: dict[int, int] | None = None,
    ) -> tuple[dict[int, Any], dict[int, str]]:
        """``method(*calls[shard])`` on every shard at once, one request per worker
        carrying all of its shards: (answers, failures by shard). A shard whose
        replica fails is asked again through ``read``. ``prefer``: the replica to ask
        first, by shard; ``answered`` is filled with the replica each shard's first
        answer came from."""
        chosen: dict[int, ReplicaHandle] = {}
        for shard in calls:
            wanted = None if prefer is None else prefer.get(shard)
            replicas = self.healthy(shard, advance=wanted is None)
            if not replicas:
                continue
            first = wanted if wanted in replicas else replicas[0]
            with contextlib.suppress(Exception):  # asked again below, through read
                chosen[shard] = self.actor(shard, first)
        by_host: dict[str, list[ReplicaHandle]] = {}
        for handle in chosen.values():
            by_host.setdefault(handle.address, []).append(handle)
        requests = {
            address: (
                self._host_name(address),
                "steps",
                pickle.dumps(
                    [(h.shard, h.replica, method, calls[h.shard]) for h in handles],
                    protocol=pickle.HIGHEST_PROTOCOL,
                ),
            )
            for address, handles in by_host.items()
        }
        answers: dict[int, Any] = {}
        retry: list[tuple[int, int]] = [(s, -1) for s in calls if s not in chosen]
        for address, results in self._round(requests).items():
            handles = by_host[address]
            if isinstance(results, BaseException) or len(results) != len(handles):
                retry += [(h.shard, h.replica) for h in handles]  # the worker is gone
                continue
            for handle, (ok, answer) in zip(handles, results, strict=True):
                if ok:
                    answers[handle.shard] = answer
                    if answered is not None:
                        answered[handle.shard] = handle.replica
                elif isinstance(answer, CALLER_ERRORS):
                    raise answer
                else:
                    retry.append((handle.shard, handle.replica))
        failures: dict[int, str] = {}
        for shard, replica in retry:
            if replica >= 0:
                self.forget(shard, replica)
            if not self.healthy(shard, advance=False):
                failures[shard] = f"shard {shard}: no healthy replica"
                continue
            try:
                answers[shard] = self.read(shard, method, *calls[shard])
            except ClusterError as exc:
                failures[shard] = str(exc)
        return answers, failures

    def worker_rounds(self, every_shard: bool) -> dict[str, WorkerPlan] | None:
        """The workers of a first page's rank round (``cluster.rounds``), by address:
        the (shard, replica) pairs each ranks (each shard's next healthy
        replica, in turn as ``scatter`` chooses) and, if ``every_shard``, a healthy
        replica there of every shard (its statistics summed on that worker). None if
        a ranking worker lacks one, or a replica cannot be reached (then the search
        takes the rounds ``scatter`` takes, which fail over shard by shard)."""
        ranked: dict[str, list[tuple[int, int]]] = {}
        held: dict[str, dict[int, int]] = {}
        try:
            for shard in range(self.catalog.shards):
                replicas = self.healthy(shard)
                if not replicas:
                    return None
                handle = self.actor(shard, replicas[0])
                ranked.setdefault(handle.address, []).append((shard, replicas[0]))
                for replica in replicas if every_shard else ():
                    address = self.actor(shard, replica).address
                    held.setdefault(address, {}).setdefault(shard, replica)
        except Exception:
            return None
        plans: dict[str, WorkerPlan] = {}
        for address, mine in ranked.items():
            sources: list[tuple[int, int]] = []
            if every_shard:
                have = held[address] | dict(mine)  # a ranked shard: its own replica
                if len(have) < self.catalog.shards:
                    return None
                sources = sorted(have.items())
            plans[address] = WorkerPlan(mine, sources)
        return plans

    def rank_round(self, messages: dict[str, bytes]) -> dict[str, Any] | None:
        """``ShardHost.rank_round`` on each worker at once (address -> the pickled
        ``WorkerRound``): the answers by address, or None if a worker did not answer
        (its replicas are forgotten, as ``scatter`` does; a caller's own error is
        raised)."""
        requests = {
            address: (self._host_name(address), "rank_round", message)
            for address, message in messages.items()
        }
        answers: dict[str, Any] = {}
        failed: list[str] = []
        for address, result in self._round(requests).items():
            if isinstance(result, BaseException) or len(result) != 1:
                failed.append(address)
                continue
            ((ok, answer),) = result
            if ok:
                answers[address] = answer
            elif isinstance(answer, CALLER_ERRORS):
                raise answer
            else:
                failed.append(address)
        for key, handle in list(self._actors.items()):
            if handle.address in failed:  # opened again (or moved) at their next call
                self.forget(*key)
        return None if failed else answers

    def write(self, shard: int, method: str, *args: Any) -> Any:
        """Send a write to every replica of ``shard``; acknowledged when all commit."""
        return self.finish_write(self.start_write(shard, method, *args))

    def start_write(self, shard: int, method: str, *args: Any) -> PendingWrite:
        """Send a write to every replica of ``shard`` without waiting: writes to many
        shards go out together, then ``finish_write`` waits for each."""
        pending = PendingWrite(shard)
        actors: dict[int, Any] = {}
        for replica in range(self.catalog.replicas):  # stale ones repaired before any write
            try:
                actors[replica] = self.actor(shard, replica)
            except Exception as exc:
                pending.failed.append((replica, exc))
        for replica, actor in actors.items():
            try:
                pending.futures[replica] = getattr(actor, method)(*args)
                pending.addresses[replica] = actor.address
            except Exception as exc:
                pending.failed.append((replica, exc))
        return pending

    def finish_write(self, pending: PendingWrite) -> Any:
        """Wait for a write ``start_write`` sent; ``ClusterError`` unless every replica
        committed (those that missed it are marked stale when others committed)."""
        shard, failed, answers = pending.shard, pending.failed, []
        for replica, future in pending.futures.items():
            try:
                answers.append(self._result(pending.addresses[replica], future))
            except CALLER_ERRORS:
                raise  # the write's own fault: no replica missed anything
            except Exception as exc:
                self.forget(shard, replica)
                failed.append((replica, exc))
        if failed and answers:  # some replicas committed: the others missed a write
            for replica, _exc in failed:
                if not self.catalog.is_stale(shard, replica):
                    self.catalog.stale.append([shard, replica])
        if failed:
            first, error = failed[0]
            raise ClusterError(
                f"write to shard {shard} not acknowledged: replica {first} failed "
                f"({type(error).__name__}: {error})"
            )
        return answers[0] if answers else None

    def bump(self, shards: list[int] | None = None) -> None:
        """After a write to ``shards`` (None: any): the catalog's generations move on
        (caches keyed by them are void) and the stale replicas it found are recorded."""
        self.catalog.moved_on(shards)
        self.save()
