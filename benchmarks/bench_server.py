"""HTTP load on loopback: N searches with C concurrent clients against `search serve`
(uvicorn on 127.0.0.1, its own process), reporting requests/s, p50/p95 latency, errors.

    python benchmarks/bench_server.py --corpus ../shared/corpus/indosum-news.jsonl

Bounded: --requests (default 2000) at --concurrency (default 8); loopback only.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_CORPUS, load_articles

import searchlib


def title_queries(articles: list[dict], count: int, seed: int = 1) -> list[str]:
    """Fixed queries of 2-4 content words taken from titles."""
    analyzer = searchlib.Analyzer()
    rng = random.Random(seed)
    queries = []
    for _ in range(count * 3):
        article = rng.choice(articles)
        words = [t.text for t in analyzer.analyze(article.get("title") or "") if t.primary]
        if len(words) >= 2:
            queries.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 4)))))
        if len(queries) == count:
            break
    return queries or ["evakuasi Kabul"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--n", type=int, default=None, help="articles to index")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    articles = load_articles(args.corpus, args.n)
    queries = title_queries(articles, 200)
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "ix"
        with searchlib.Index.create(path) as index:
            index.add(articles)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # The server runs in its own process, as `search serve` does: the client threads
        # here must not share its interpreter lock.
        server = subprocess.Popen(
            [sys.executable, "-m", "searchlib", "--index", str(path), "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}/search?"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)

            def one(number: int) -> tuple[float, bool]:
                query = queries[number % len(queries)]
                started = time.perf_counter()
                try:
                    url = base + urllib.parse.urlencode({"q": query, "limit": 10})
                    with urllib.request.urlopen(url, timeout=30) as response:
                        ok = response.status == 200 and "hits" in json.loads(response.read())
                except OSError:
                    ok = False
                return time.perf_counter() - started, ok

            for number in range(50):  # warm up
                one(number)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                outcomes = list(pool.map(one, range(args.requests)))
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(seconds * 1000 for seconds, _ in outcomes)
    errors = sum(1 for _, ok in outcomes if not ok)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"corpus: {args.corpus} ({len(articles)} articles); {args.requests} searches, "
        f"{args.concurrency} concurrent, with snippets"
    )
    print(f"throughput: {args.requests / elapsed:,.0f} requests/s")
    print(f"latency: p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms")
    print(f"errors: {errors}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
