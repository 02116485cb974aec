"""Worker process of the soak test: ``writer`` or ``reader`` for a number of seconds.

The writer keeps exactly LIVE articles containing "kabar" at every commit (each commit
deletes some, adds as many, updates a few). A reader checks that every search sees
exactly LIVE of them. Prints one JSON line: {"operations": n, "errors": [...]}.
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback

import searchlib

LIVE = 50


def article(number: int, version: int) -> dict:
    return {
        "id": f"d{number}",
        "title": f"Judul {number}",
        "body": f"kabar nomor {number} versi {version} tentang banjir di kota",
    }


def writer(path: str, seconds: float) -> dict:
    ix = searchlib.Index.open(path, lock_timeout=30)
    rng = random.Random(1)
    live = sorted(int(doc_id[1:]) for doc_id in ix.ids())
    next_number = max(live) + 1
    commits = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with ix.batch() as batch:
            gone = rng.sample(live, 5)
            batch.delete([f"d{n}" for n in gone])
            live = [n for n in live if n not in gone]
            fresh = list(range(next_number, next_number + 5))
            next_number += 5
            batch.add(article(n, 0) for n in fresh)
            batch.add(article(n, commits) for n in rng.sample(live, 3))
            live += fresh
        commits += 1
    return {"operations": commits, "errors": []}


def reader(path: str, seconds: float) -> dict:
    ix = searchlib.Index.open(path)
    errors: list[str] = []
    searches = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            results = ix.search("kabar", limit=100)
            if results.total != LIVE or len(set(results.ids())) != LIVE:
                errors.append(f"saw {results.total} articles")
        except Exception as exc:  # the test counts every failure
            where = traceback.extract_tb(exc.__traceback__)[-1]
            errors.append(f"{type(exc).__name__}: {exc} at {where.filename}:{where.lineno}")
        searches += 1
    return {"operations": searches, "errors": errors[:20]}


if __name__ == "__main__":
    role, index_path, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    result = (writer if role == "writer" else reader)(index_path, duration)
    print(json.dumps(result))
