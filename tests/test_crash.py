"""Crash drill: SIGKILL a writer at random moments (in commits, streaming adds, optimize
and background merges); every reopen sees exactly the last commit that returned (or the
one in flight, complete) - never a partial batch."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import searchlib

KILLS = int(os.environ.get("SEARCHLIB_CRASH_KILLS", "50"))
WRITER = Path(__file__).with_name("crash_writer.py")
BATCH = 20


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL drill needs POSIX")
def test_crash_drill(tmp_path):
    index_dir, state = tmp_path / "ix", tmp_path / "state"
    rng = random.Random(2026)
    phases: Counter[str] = Counter()
    committed = -1  # last batch whose commit returned
    phase_file = Path(str(state) + ".phase")
    for _kill in range(KILLS):
        phase_file.unlink(missing_ok=True)
        child = subprocess.Popen(
            [sys.executable, str(WRITER), str(index_dir), str(state), str(committed + 1)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Wait until the writer works (a loaded machine starts Python slowly), then kill
        # it somewhere in the middle of the work.
        started = time.monotonic()
        while not phase_file.exists() and child.poll() is None:
            assert time.monotonic() - started < 60, "the writer never started"
            time.sleep(0.005)
        deadline = time.monotonic() + rng.random() * 0.6
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        assert child.poll() is None, child.stderr.read().decode()
        child.send_signal(signal.SIGKILL)
        child.wait()
        phase = phase_file.read_text() if phase_file.exists() else "start"
        # An empty phase file: killed while recording the phase itself.
        phases[(phase.split() or ["record"])[0]] += 1
        # What was known committed: the writer's record, or what the previous round
        # found in the index (a writer killed after a commit but before recording it
        # leaves the record behind, and the next writer goes on from the index).
        reported = max(int(state.read_text()) if state.exists() else -1, committed)
        if any(index_dir.glob("merging.*")):
            phases["killed in a background merge"] += 1

        with searchlib.Index.open(index_dir) as ix:
            assert ix.check() == []
            batches = Counter(re.match(r"b(\d+)-", doc_id).group(1) for doc_id in ix.ids())
        assert all(count == BATCH for count in batches.values()), batches
        numbers = sorted(int(b) for b in batches)
        assert numbers == list(range(len(numbers))), numbers
        last = numbers[-1] if numbers else -1
        # The kill may land after a commit returned but before it was recorded.
        assert last in (reported, reported + 1), (last, reported)
        committed = last
    print(
        f"\ncrash drill: {KILLS} kills; phase at kill: {dict(phases)}; "
        f"{committed + 1} batches committed"
    )
    assert phases["commit"] + phases["merge"] + phases["background"] > 0
    assert phases["stream"] > 0 and phases["killed in a background merge"] > 0
