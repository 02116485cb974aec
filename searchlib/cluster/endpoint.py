"""How a search round reaches the workers: a handler of Dask's own comm on each worker.

A round (``ShardHost.rank_round``, ``ShardHost.steps``) is a request to the worker's
``searchlib_round`` handler, added to the worker as Dask's own extensions add theirs
(the shuffle's ``shuffle_receive``, say), naming the host and its method. It is not an
actor call: an actor call goes through Dask's task machinery on both sides and costs
about 1.8 ms a round on 2 workers, the handler about 0.7 ms (benchmarks/bench_cluster.py
and docs/performance.md). The actors stay for everything else (opening replicas,
writes, recovery): their lifetime is what keeps a host and its replicas alive.

Worker side, ``RoundEndpoint`` keeps the worker's hosts by name (a host registers when
it starts, and leaves when it closes). Client side, ``ask_workers`` sends one request to
each worker at once and returns each one's unpickled answer, or the exception that
stopped it. A host-level failure (no such host on the worker: it restarted, say)
travels as a pickled exception; the caller fails that worker's replicas over.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from searchlib.errors import SearchlibError

__all__ = ["ROUND_OP", "ReplicaNotOpen", "RoundEndpoint", "ask_workers"]

ROUND_OP = "searchlib_round"  # the worker handler's name
_EXTENSION = "searchlib-rounds"  # the endpoint's entry in the worker's extensions
ROUND_METHODS = ("rank_round", "steps")
LIVENESS_POLL = 0.02  # seconds between looks at a slow round's workers
_registering = threading.Lock()


class ReplicaNotOpen(SearchlibError):
    """The worker does not keep this replica (or its host) open: it was restarted, say."""


class RoundHost(Protocol):
    """What a round asks of a host (``ShardHost``)."""

    async def rank_round(self, message: bytes) -> bytes: ...

    async def steps(self, message: bytes) -> bytes: ...


class RoundEndpoint:
    """The hosts on one worker, by name, behind its ``ROUND_OP`` handler. Held
    weakly: a host lives as long as its actor (Dask's), never longer for being here."""

    def __init__(self) -> None:
        self.hosts: weakref.WeakValueDictionary[str, RoundHost] = weakref.WeakValueDictionary()

    @classmethod
    def register(cls, worker: Any, name: str, host: RoundHost) -> None:
        """Serve rounds for ``host`` as ``name`` on ``worker`` (its Dask worker)."""
        with _registering:
            endpoint = worker.extensions.get(_EXTENSION)
            if endpoint is None:
                endpoint = worker.extensions[_EXTENSION] = cls()
                worker.handlers[ROUND_OP] = endpoint.handle
            endpoint.hosts[name] = host

    @classmethod
    def unregister(cls, worker: Any, name: str, host: RoundHost) -> None:
        """Stop serving rounds for ``host`` (closed) on ``worker``."""
        endpoint = worker.extensions.get(_EXTENSION)
        if endpoint is not None and endpoint.hosts.get(name) is host:
            del endpoint.hosts[name]

    async def handle(self, host: str, method: str, message: bytes) -> bytes:
        """One round's request: the host's pickled answer, or a pickled exception."""
        found = self.hosts.get(host)
        if found is None:
            return pickle.dumps(ReplicaNotOpen(f"no shard host {host!r} on this worker"))
        if method not in ROUND_METHODS:
            return pickle.dumps(SearchlibError(f"no round method {method!r}"))
        answer: bytes = await getattr(found, method)(message)
        return answer


def ask_workers(
    client: Any,
    requests: dict[str, tuple[str, str, bytes]],
    timeout: float,
    alive: Callable[[str], bool] = lambda address: True,
) -> dict[str, Any]:
    """One round, every worker at once: address -> (host name, method, pickled
    message). Each worker's unpickled answer, or the exception that stopped it (a lost
    worker, a timeout after ``timeout`` seconds, a host that is gone). ``alive(address)``
    is asked before sending and while waiting: a worker that died fails its request at
    once, instead of after Dask's connect retries (30 s by default)."""

    async def ask(address: str, host: str, method: str, message: bytes) -> Any:
        if not alive(address):
            raise ConnectionError(f"the worker at {address} is gone")
        call = asyncio.ensure_future(
            getattr(client.rpc(address), ROUND_OP)(host=host, method=method, message=message)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            done, _pending = await asyncio.wait({call}, timeout=LIVENESS_POLL)
            if done:
                return call.result()
            running = alive(address)
            if not running or loop.time() > deadline:
                call.cancel()
                if running:
                    raise TimeoutError(f"the worker at {address} did not answer in {timeout} s")
                raise ConnectionError(f"the worker at {address} is gone")

    async def gather() -> list[Any]:
        asked = (ask(address, *request) for address, request in requests.items())
        return await asyncio.gather(*asked, return_exceptions=True)

    answers: dict[str, Any] = {}
    for address, blob in zip(requests, client.sync(gather), strict=True):
        if isinstance(blob, BaseException):
            answers[address] = blob
            continue
        try:
            answers[address] = pickle.loads(blob)
        except Exception as exc:  # a damaged answer: that worker failed this round
            answers[address] = exc
    return answers
