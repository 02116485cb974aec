"""Child process of the crash drill: writes batches forever until it is killed.

Usage: python crash_writer.py INDEX_DIR STATE_FILE START_BATCH

Each batch adds BATCH articles (ids ``b<k>-<i>``) in one commit: every third batch as
one streaming ``Index.add`` of a generator in chunks of 7 (uncommitted segments until
the end), the others through ``Index.batch``. After ``commit`` returns it
records the batch number (fsync'd); every other batch it waits for the background
merges its commits started (phase ``background``). Before and after each phase it
writes the phase to the state file (not fsync'd: the parent reads it from the page
cache after the kill).
"""

from __future__ import annotations

import os
import sys

import searchlib
from searchlib.engine.merge import MergePolicy

BATCH = 20


def _record(path: str, text: str, durable: bool = False) -> None:
    if not durable:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    temp = path + ".partial"  # the batch number must never be seen half-written
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def main() -> None:
    index_dir, state, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ix = searchlib.Index.open_or_create(index_dir, lock_timeout=30)
    ix.stream_chunk = 7
    # Merge often, in the background: kills land in merges that commits do not wait for.
    ix._engine.merge_policy = MergePolicy(factor=3, floor=1)
    batch_number = start
    while True:
        _record(state + ".phase", f"prepare {batch_number}")
        articles = (
            {
                "id": f"b{batch_number}-{i}",
                "title": f"Berita {batch_number}",
                "body": f"kabar nomor {i} dari gelombang {batch_number} tentang gempa",
            }
            for i in range(BATCH)
        )
        if batch_number % 3 == 2:
            _record(state + ".phase", f"stream {batch_number}")
            ix.add(articles)
        else:
            with ix.batch() as batch:
                batch.add(articles)
                _record(state + ".phase", f"commit {batch_number}")
        _record(state, str(batch_number), durable=True)
        if batch_number % 2:
            _record(state + ".phase", f"background {batch_number}")
            ix.wait_for_merges()
        if batch_number % 7 == 6:
            _record(state + ".phase", f"merge {batch_number}")
            ix.optimize()
        batch_number += 1


if __name__ == "__main__":
    main()
