"""A cluster index against one local Index: the same corpus as 1 shard and as 4 shards
on a LocalCluster of this machine (127.0.0.1 only), and as one in-process Index, the
peer, in the same run. Build docs/s (files read on the workers by ``add_files``),
query p50/p95 with snippets (200 fixed title queries, top 10), and the scatter-gather
overhead per query: the median over queries of (cluster time - local Index time). The
cluster's first pass is paired query by query with a freshly opened one Index (each
query asked of both in turn, which first alternating; its overhead is against that
peer), so that the ratio of their p50s holds however the shared machine drifts over
the run; the other rows compare with the one Index timed before the cluster started.
Then, on the largest shard count: queries per second with 1, 2 and 4 concurrent
clients (processes) against the one Index's, the wall time of one ``search`` command
(a fresh process) on each, and the same queries while another process (a client
of its own: the ingest pipeline) keeps writing (``--ingest-writes`` calls of ``add``,
each a copy of the first 3,463 articles under new ids, one after another): searches
during a sustained ingest against idle ones.

    python benchmarks/bench_cluster.py --corpus /tmp/news-1m.jsonl --n 200000

The machine has few cores: 4 shards share its workers, so this measures what the
distribution costs, not what more machines gain (docs/capacity.md does that on paper).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_CORPUS
from stacks import QUERY_SOURCE, stream, title_queries

import searchlib
from searchlib.cluster import ClusterIndex


def write_parts(articles, folder: Path, parts: int) -> tuple[list[Path], int, list[dict]]:
    """The corpus as ``parts`` JSON Lines files (one task each on the cluster); the
    article count and the first articles (where the queries come from)."""
    paths = [folder / f"part-{i:02d}.jsonl" for i in range(parts)]
    sample: list[dict] = []
    count = 0
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(p, "w", encoding="utf-8")) for p in paths]
        for count, article in enumerate(articles, start=1):
            handles[count % parts].write(json.dumps(article, ensure_ascii=False) + "\n")
            if len(sample) < QUERY_SOURCE:
                sample.append(article)
    return paths, count, sample


def read_part(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def read_page(results) -> None:
    """What a user's page reads of a search: every hit with its snippet."""
    for hit in results:
        if hit.snippet is not None:
            hit.snippet.html()


def timed_queries(search, queries: list[str]) -> list[float]:
    for query in queries[:20]:  # warm caches and actors
        search(query)
    times = []
    for query in queries:
        started = time.perf_counter()
        read_page(search(query))
        times.append((time.perf_counter() - started) * 1000)
    return times


def timed_pairs(search, peer, queries: list[str]) -> tuple[list[float], list[float]]:
    """``search``'s and ``peer``'s times for each query, run one right after the other
    (which goes first alternating), after the same warm-up: a shared machine's drift
    over a run (it slows down and speeds up for minutes) then weighs on both alike."""
    for query in queries[:20]:
        search(query)
        peer(query)
    times: list[float] = []
    peer_times: list[float] = []
    for number, query in enumerate(queries):
        turns = [(search, times), (peer, peer_times)]
        for run, taken in turns if number % 2 == 0 else turns[::-1]:
            started = time.perf_counter()
            read_page(run(query))
            taken.append((time.perf_counter() - started) * 1000)
    return times, peer_times


INGEST_BATCH = 3_463  # articles per add call during the ingest run (the shared corpus)
CLIENTS = (1, 2, 4)  # concurrent search clients for the throughput figures


def _ingest(root: str, address: str, batch: list[dict], writes: int, done) -> None:
    """The ingest pipeline, a process and client of its own: ``writes`` copies of
    ``batch`` under new ids, one ``add`` after another."""
    with ClusterIndex.open(root, address=address) as index:
        written = 0
        for copy in range(writes):
            written += index.add([{**a, "id": f"copy{copy}-{a['id']}"} for a in batch])
    done.put(written)


def searches_during_ingest(
    index: ClusterIndex, address: str, sample: list[dict], queries: list[str], writes: int
) -> tuple[list[float], list[float], int, float]:
    """Query times while another process writes ``writes`` copies of the first
    articles (new ids each time), against the same queries idle just before: (during,
    idle, written, docs/s)."""
    idle = timed_queries(lambda q: index.search(q, limit=10), queries)
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    writer = context.Process(
        target=_ingest, args=(str(index.root), address, sample[:INGEST_BATCH], writes, done)
    )
    started = time.perf_counter()
    writer.start()
    time.sleep(3.0)  # the writer has connected and its first write reached the replicas
    during: list[float] = []
    while writer.is_alive() and done.empty():
        for query in queries:
            if not writer.is_alive() or not done.empty():
                break
            began = time.perf_counter()
            read_page(index.search(query, limit=10))
            during.append((time.perf_counter() - began) * 1000)
    written = done.get(timeout=600)
    elapsed = time.perf_counter() - started
    writer.join()
    return during, idle, written, written / elapsed


def _client(root: str, address: str | None, queries: list[str], start, done) -> None:
    """One search client, a process of its own: warm, wait for the others, then run
    every query once (top 10 with snippets); puts (queries, seconds)."""
    index = ClusterIndex.open(root, address=address) if address else searchlib.Index.open(root)
    try:
        for query in queries[:10]:
            index.search(query, limit=10)
        start.wait()
        began = time.perf_counter()
        for query in queries:
            read_page(index.search(query, limit=10))
        done.put((len(queries), time.perf_counter() - began))
    finally:
        index.close()


def throughput(root: Path, address: str | None, queries: list[str], clients: int) -> float:
    """Queries per second with ``clients`` concurrent clients (processes), each
    running every query once: all queries answered over the slowest client's time.
    ``address`` None: the clients open the one Index at ``root``."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(clients)
    done = context.Queue()
    processes = [
        context.Process(target=_client, args=(str(root), address, queries, start, done))
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    answers = [done.get(timeout=1200) for _ in processes]
    for process in processes:
        process.join()
    return sum(count for count, _seconds in answers) / max(s for _c, s in answers)


def cli_seconds(arguments: list[str], query: str, runs: int = 5) -> float:
    """Median wall time of one ``search`` command answering ``query`` (a fresh
    process each time: import, connect or open, search, print)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "searchlib", *arguments, query],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--n", type=int, default=0, help="articles (resampled if more)")
    parser.add_argument("--shards", default="1,4", help="shard counts to compare")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--replicas", type=int, default=2, help="replicas of each shard")
    parser.add_argument(
        "--ingest-writes", type=int, default=5, help="add calls during the ingest run"
    )
    args = parser.parse_args()
    from distributed import LocalCluster

    rows = []
    qps: dict[int, tuple[float, float]] = {}
    paired: dict[int, tuple[list[float], list[float]]] = {}  # shards -> (cluster, one Index)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as temp:
        folder = Path(temp)
        parts, count, sample = write_parts(stream(args.corpus, args.n), folder, 2 * args.workers)
        queries = title_queries(sample)
        print(f"{count:,} articles in {len(parts)} files, {len(queries)} queries", flush=True)

        started = time.perf_counter()
        with searchlib.Index.create(folder / "local") as local:
            for part in parts:  # a commit every 10,000 articles, as `search index` does
                records = read_part(part)
                while batch := list(islice(records, 10_000)):
                    local.add(batch)
        local_build = count / (time.perf_counter() - started)
        local_index = searchlib.Index.open(folder / "local")
        local_times = timed_queries(lambda q: local_index.search(q, limit=10), queries)
        rows.append(("one Index (in process)", local_build, local_times, None))
        print(f"  local: {local_build:,.0f} docs/s", flush=True)

        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        )
        try:
            for shards in (int(s) for s in args.shards.split(",")):
                root = folder / f"cluster-{shards}"
                with ClusterIndex.create(
                    root, address=cluster.scheduler_address, shards=shards, replicas=args.replicas
                ) as index:
                    started = time.perf_counter()
                    index.add_files(parts)
                    build = count / (time.perf_counter() - started)
                    if len(index) != count:
                        raise SystemExit(f"{shards} shards hold {len(index)} articles, not {count}")
                    # The first pass, each query also asked of a freshly opened one
                    # Index right before or after (the peer in the same minute).
                    with searchlib.Index.open(folder / "local") as fresh:
                        times, beside = timed_pairs(
                            lambda q, ix=index: ix.search(q, limit=10),
                            lambda q: fresh.search(q, limit=10),
                            queries,
                        )
                    paired[shards] = (times, beside)
                    local = timed_queries(
                        lambda q, ix=index: ix.search(q, limit=10, statistics="shard"), queries
                    )
                    # How often each shard's own statistics give another top 10 than
                    # exact ranking on the same shards: in order, and as a set.
                    pairs = [
                        (index.search(q, limit=10, statistics="shard").ids(),
                         index.search(q, limit=10).ids())
                        for q in queries
                    ]  # fmt: skip
                    differ = sum(a != b for a, b in pairs)
                    other_set = sum(set(a) != set(b) for a, b in pairs)
                    if shards == max(int(s) for s in args.shards.split(",")):
                        address = cluster.scheduler_address
                        for clients in CLIENTS:
                            qps[clients] = (
                                throughput(folder / "local", None, queries, clients),
                                throughput(root, address, queries, clients),
                            )
                        cli = (
                            cli_seconds(["--index", str(folder / "local")], queries[0]),
                            cli_seconds(["--cluster", address, "--root", str(root)], queries[0]),
                        )
                        ingest = searches_during_ingest(
                            index, address, sample, queries, args.ingest_writes
                        )
                name = f"cluster, {shards} shard{'s' * (shards > 1)}"
                rows.append((f"one Index, in turn with the {name}", local_build, beside, None))
                # The exact first pass against its peer of the same minute; the rest
                # against the one Index timed before the cluster started.
                for label, taken, peer in (
                    (name, times, beside),
                    (f"{name}, statistics=shard", local, local_times),
                ):
                    overhead = statistics.median(c - o for c, o in zip(taken, peer, strict=True))
                    rows.append((label, build, taken, overhead))
                print(
                    f"  {shards} shards: {build:,.0f} docs/s; statistics=shard: top 10 "
                    f"differs from exact for {differ} of {len(queries)} queries in order, "
                    f"{other_set} as a set",
                    flush=True,
                )
        finally:
            cluster.close()
        local_index.close()

    during, idle, written, write_rate = ingest
    print(
        f"\nsearches during a sustained ingest ({written:,} articles written at "
        f"{write_rate:,.0f} docs/s, {len(during)} searches): p50 {statistics.median(during):.1f} "
        f"ms, p95 {percentile(during, 0.95):.1f} ms, worst {max(during):.1f} ms; idle p50 "
        f"{statistics.median(idle):.1f} ms, p95 {percentile(idle, 0.95):.1f} ms "
        f"(p95 ratio {percentile(during, 0.95) / percentile(idle, 0.95):.2f}x)"
    )
    largest = max(int(s) for s in args.shards.split(","))
    print(f"\nqueries per second, top 10 with snippets ({largest} shards; clients are processes):")
    print("| clients | one Index | cluster | cluster / one Index |")
    print("|---|---|---|---|")
    for clients, (alone, spread) in qps.items():
        print(f"| {clients} | {alone:.1f} | {spread:.1f} | {spread / alone:.2f} |")
    print(
        f"\none `search` command (fresh process, median of 5): one Index {cli[0]:.2f} s, "
        f"cluster {cli[1]:.2f} s"
    )
    print(
        "\nfirst pass, each query asked of the cluster and of a fresh one Index in turn "
        "(the same minute; the table's first one Index ran before the cluster started):"
    )
    for shards, (spread, alone) in paired.items():
        ratio = statistics.median(spread) / statistics.median(alone)
        print(
            f"  {shards} shards: cluster p50 {statistics.median(spread):.1f} ms, one Index "
            f"p50 {statistics.median(alone):.1f} ms ({ratio:.2f}x)"
        )
    print(
        f"\n{count:,} articles; {args.workers} worker processes; {args.replicas} replicas; "
        "top 10 with snippets"
    )
    print("| index | build docs/s | query p50 ms | query p95 ms | scatter-gather overhead ms |")
    print("|---|---|---|---|---|")
    for name, build, times, overhead in rows:
        extra = "-" if overhead is None else f"{overhead:.1f}"
        print(
            f"| {name} | {build:,.0f} | {statistics.median(times):.1f} | "
            f"{percentile(times, 0.95):.1f} | {extra} |"
        )


if __name__ == "__main__":
    main()
