"""Soak: one writer process commits continuously while reader threads and reader
processes search; no search may fail or see anything but one complete commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import searchlib

from .soak_worker import LIVE, article, reader

SECONDS = float(os.environ.get("SEARCHLIB_SOAK_SECONDS", "20"))
WORKER = Path(__file__).with_name("soak_worker.py")


def test_soak_readers_and_a_writer(tmp_path):
    path = tmp_path / "ix"
    with searchlib.Index.create(path) as ix:
        ix.add(article(n, 0) for n in range(LIVE))

    def spawn(role: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(WORKER), role, str(path), str(SECONDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    processes = [spawn("writer"), spawn("reader"), spawn("reader")]
    thread_results: list[dict] = []
    shared = searchlib.Index.open(path)  # one Index shared by the threads

    def read_in_thread() -> None:
        errors, searches = [], 0
        import time

        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            try:
                results = shared.search("kabar banjir", limit=100)
                if results.total != LIVE:
                    errors.append(f"saw {results.total}")
            except Exception as exc:  # counted below
                where = traceback.extract_tb(exc.__traceback__)[-1]
                errors.append(f"{type(exc).__name__}: {exc} at {where.filename}:{where.lineno}")
            searches += 1
        thread_results.append({"operations": searches, "errors": errors[:20]})

    threads = [threading.Thread(target=read_in_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=SECONDS + 60)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    commits = outputs[0]["operations"]
    process_searches = sum(o["operations"] for o in outputs[1:])
    thread_searches = sum(r["operations"] for r in thread_results)
    errors = [e for o in outputs + thread_results for e in o["errors"]]
    print(
        f"\nsoak: {SECONDS:g} s, {commits} commits, {process_searches} searches in 2 "
        f"processes, {thread_searches} in 3 threads, {len(errors)} errors"
    )
    assert errors == []
    assert commits > 0 and process_searches > 0 and thread_searches > 0
    assert reader(str(path), 0.1)["errors"] == []
