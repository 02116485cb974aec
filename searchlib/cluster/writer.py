"""A replica's writes, in a process of their own: ``WriterProcess``.

Analysis is Python, so a write running in the worker's process would hold the GIL
most of the time and every search on that worker would wait for it in 5 ms turns. A
replica therefore writes through a child process (``main`` of this module, given
the index's path) that keeps the index open for writing, at the lowest CPU
priority (it takes the time searches leave), while the worker's own ``Index`` only
reads: each search sees a commit of the child as soon as it lands (the index lets
readers in other processes run beside its writer). Background merges run in the child too.

The parent and child speak over the child's stdin and stdout: each message is a
length and a pickle (the child is this library in a process of the worker's own
making; nothing read from an index directory is unpickled). The child dies with
its parent (Linux: ``PR_SET_PDEATHSIG``; elsewhere: at the end of its input), so no
orphan writes into a replica the client has since recovered elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from searchlib.analysis import Synonyms
from searchlib.errors import SearchlibError
from searchlib.index import Index

__all__ = ["WRITER_NICENESS", "WriterError", "WriterProcess"]

WRITER_NICENESS = 19  # writes take the CPU time searches leave (the lowest priority)
_LENGTH = struct.Struct("<Q")
_PR_SET_PDEATHSIG = 1
# The child's program (not ``-m``: the package imports this module first).
_CHILD = "from searchlib.cluster.writer import main; main()"


class WriterError(SearchlibError):
    """The writer process of a replica failed or is gone."""


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # from our own child or parent, never a file


class WriterProcess:
    """The child process writing one replica's index at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()  # one request at a time
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        ready = self._call("ready")
        if ready != path:
            raise WriterError(f"the writer of {path!r} did not start")

    def _call(self, method: str, *args: Any) -> Any:
        child = self._child
        if child.stdin is None or child.stdout is None:  # pragma: no cover - always piped
            raise WriterError("the writer has no pipes")
        with self._lock:
            try:
                _send(child.stdin, (method, args))
                ok, value = _receive(child.stdout)
            except (EOFError, OSError, pickle.PickleError) as exc:
                raise WriterError(
                    f"the writer of {self.path!r} is gone ({type(exc).__name__}: {exc})"
                ) from None
        if not ok:
            raise value
        return value

    def add(self, records: list[dict[str, Any]]) -> int:
        return int(self._call("add", records))

    def apply(self, adds: list[dict[str, Any]], deletes: list[str]) -> tuple[int, int]:
        added, deleted = self._call("apply", adds, deletes)
        return int(added), int(deleted)

    def delete(self, ids: list[str]) -> int:
        return int(self._call("delete", ids))

    def set_synonyms(self, data: list[dict[str, list[str]]]) -> None:
        self._call("set_synonyms", data)

    def close(self) -> None:
        """Finish the running write and its merges, and stop the child."""
        with contextlib.suppress(WriterError):
            self._call("close")
        for stream in (self._child.stdin, self._child.stdout):
            if stream is not None:
                stream.close()
        try:
            self._child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()


# -- the child ------------------------------------------------------------------------


def _die_with_parent() -> None:
    with contextlib.suppress(AttributeError, OSError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _apply(index: Index, adds: list[dict[str, Any]], deletes: list[str]) -> tuple[int, int]:
    batch = index.batch()
    batch.add(adds)
    batch.delete(deletes)
    return batch.commit()


def _serve(path: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    index = Index.open(path, workers=1)
    methods: dict[str, Callable[..., Any]] = {
        "ready": lambda: path,
        "add": index.add,
        "apply": lambda adds, deletes: _apply(index, adds, deletes),
        "delete": index.delete,
        "set_synonyms": lambda data: index.set_synonyms(Synonyms.from_data(data)),
        "close": lambda: None,  # the index closes below, once the reply is sent
    }
    try:
        while True:
            try:
                method, args = _receive(requests)
            except EOFError:
                return  # the parent is gone
            try:
                reply: tuple[bool, Any] = (True, methods[method](*args))
            except Exception as exc:
                reply = (False, exc)
            try:
                _send(replies, reply)
            except pickle.PickleError:
                _send(replies, (False, WriterError(f"{type(reply[1]).__name__}: {reply[1]}")))
            if method == "close":
                return
    finally:
        index.close()


def main() -> None:
    _die_with_parent()
    with contextlib.suppress(AttributeError, OSError):
        os.nice(WRITER_NICENESS)
    # The pipes are the protocol's: nothing else may write to stdout.
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    _serve(sys.argv[1], requests, replies)


if __name__ == "__main__":
    main()
