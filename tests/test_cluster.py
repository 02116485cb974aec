"""A cluster index on a real Dask LocalCluster (3 worker processes, 127.0.0.1 only):
exact distributed ranking against one Index, writes, replicas and SIGKILL drills."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import shutil
import signal
import threading
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from searchlib import Index, QueryError, Ranking, Recency
from searchlib.cli import cli
from searchlib.engine.storage import WriterLock
from searchlib.errors import SearchlibError

distributed = pytest.importorskip("distributed")

from searchlib.cluster import Catalog, ClusterError, ClusterIndex, shard_of  # noqa: E402
from searchlib.cluster import replicas as cluster_replicas  # noqa: E402
from searchlib.cluster import search as cluster_search  # noqa: E402
from searchlib.cluster.endpoint import ReplicaNotOpen, ask_workers  # noqa: E402
from searchlib.cluster.host import _pickled  # noqa: E402
from searchlib.cluster.replicas import ReplicaSet  # noqa: E402
from searchlib.cluster.rounds import OVERFLOW_ODDS, prefetch_count  # noqa: E402
from searchlib.cluster.term_cache import ShardTermCache  # noqa: E402

WORDS = [
    "gempa",
    "banjir",
    "evakuasi",
    "warga",
    "pemerintah",
    "membangun",
    "pembangunan",
    "jembatan",
    "bandara",
    "pesawat",
    "presiden",
    "menteri",
    "polisi",
    "hakim",
    "sidang",
    "harga",
    "beras",
    "petani",
    "pasar",
    "vaksin",
    "sekolah",
    "pelajar",
    "sungai",
    "hujan",
    "kabul",
    "taliban",
    "rusia",
    "kedutaan",
    "militer",
    "perbatasan",
]
CATEGORIES = ["nasional", "internasional", "ekonomi", "olahraga"]
SOURCES = ["antara", "kompas", "detik"]
FACETS = ("category", "source")


def _corpus(count: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for number in range(count):
        docs.append(
            {
                "id": f"n{number}",
                "title": " ".join(rng.choices(WORDS, k=rng.randint(2, 7))),
                "body": " ".join(rng.choices(WORDS, k=rng.randint(5, 80))),
                "category": rng.choice(CATEGORIES),
                "source": rng.choice(SOURCES),
                "published": f"2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }
        )
    return docs


def _queries(count: int, seed: int = 5) -> list[tuple[str, dict]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.sample(WORDS, rng.randint(1, 4))
        shape = rng.random()
        if shape < 0.15:
            text = f'"{words[0]} {rng.choice(WORDS)}"'
        elif shape < 0.25:
            text = f"{words[0][:4]}* {' '.join(words[1:])}"
        elif shape < 0.35 and len(words) > 1:
            text = f"+{words[0]} -{words[1]}"
        else:
            text = " ".join(words)
        options: dict = {}
        if rng.random() < 0.2:
            options["filters"] = {"category": rng.choice(CATEGORIES)}
        if rng.random() < 0.1:
            options["since"] = "2021-06"
        out.append((text, options))
    return out


@pytest.fixture(scope="module")
def local_cluster():
    cluster = distributed.LocalCluster(
        n_workers=3,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    )
    try:
        yield cluster
    finally:
        cluster.close(timeout=30)


def _same_ranking(cluster_results, single_results):
    """Same scores in the same order (to 1e-9) and the same ids at each score; articles
    tied on score may come in either order (one index breaks ties by its document
    numbers), and the page's last score may be a tie the page cuts."""
    got, want = list(cluster_results), list(single_results)
    assert len(got) == len(want)
    for mine, theirs in zip(got, want, strict=True):
        assert mine.score == pytest.approx(theirs.score, rel=1e-9, abs=1e-12)

    def by_score(hits):
        groups: dict[float, set] = {}
        for hit in hits:
            groups.setdefault(round(hit.score, 9), set()).add(hit.id)
        return groups

    mine_groups, their_groups = by_score(got), by_score(want)
    cut = round(want[-1].score, 9) if want else None
    for score, ids in their_groups.items():
        if score != cut:
            assert mine_groups.get(score) == ids


def test_distributed_search_equals_one_index(tmp_path, local_cluster):
    docs = _corpus(260)
    with Index.create(tmp_path / "single", workers=1) as single:
        single.add(docs)
        cluster = ClusterIndex.create(
            tmp_path / "cluster", address=local_cluster.scheduler_address, shards=4
        )
        with cluster:
            cluster.add(docs)
            sizes = [sum(1 for d in docs if shard_of(d["id"], 4) == s) for s in range(4)]
            assert len(set(sizes)) > 1  # uneven shards
            assert len(cluster) == len(docs)
            fresh = Recency(scale="300d", weight=0.5, origin="2021-09-01")
            rankings = [
                None,
                Ranking(coordination=False),
                Ranking(exact_boost=0),
                Ranking(recency=fresh),
            ]
            for number, (text, options) in enumerate(_queries(60)):
                ranking = rankings[number % len(rankings)]
                want = single.search(text, limit=10, ranking=ranking, facets=FACETS, **options)
                got = cluster.search(text, limit=10, ranking=ranking, facets=FACETS, **options)
                assert got.shards["failed"] == 0, got.shards
                assert got.total == want.total, text
                assert got.facets == want.facets, text
                _same_ranking(got, want)
            for sort in ("newest", "oldest"):
                want = single.search("gempa warga", limit=15, sort=sort)
                got = cluster.search("gempa warga", limit=15, sort=sort)
                assert got.ids() == want.ids() and got.total == want.total
            misspelled = cluster.search("evakuasii kabul", suggest=True)
            expected = single.search("evakuasii kabul", suggest=True).suggestion
            assert misspelled.suggestion == expected
            assert misspelled.suggestion is not None
            page = cluster.search("gempa warga", limit=5, offset=5)
            assert page.ids() == single.search("gempa warga", limit=5, offset=5).ids()
            hit = cluster.search("evakuasi kabul", explain=True)[0]
            assert hit.snippet is not None and hit.explanation
            assert sum(p.score for p in hit.explanation) == pytest.approx(hit.score)
            for typed in ("p", "gempa w", "banjir "):  # search as you type, summed
                got_words, want_words = cluster.complete(typed), single.complete(typed)
                assert [(c.word, c.count, c.together, c.in_titles) for c in got_words.words] == [
                    (c.word, c.count, c.together, c.in_titles) for c in want_words.words
                ], typed
                assert [t.published for t in got_words.titles] == [
                    t.published for t in want_words.titles
                ], typed


def test_writes_upsert_delete_and_get(tmp_path, local_cluster):
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=3
    ) as cluster:
        assert cluster.add(_corpus(30)) == 30
        cluster.add({"id": "n1", "title": "banjir bandang", "body": "hujan deras"})
        assert len(cluster) == 30
        assert cluster.get("n1")["title"] == "banjir bandang"
        assert cluster.delete(["n1", "n2", "missing"]) == 2
        assert cluster.get("n1") is None and len(cluster) == 28
        with pytest.raises(ValueError, match="id"):
            cluster.add([{"id": "ok", "body": "x"}, {"title": "no id"}])
        assert cluster.get("ok") is None  # nothing of a bad batch is written
        assert cluster.check() == []
        stats = cluster.stats()
        assert stats["articles"] == 28 and stats["shards"] == 3
        assert sum(s["articles"] for s in stats["per_shard"]) == 28
    with ClusterIndex.open(tmp_path / "c", address=local_cluster.scheduler_address) as again:
        assert len(again) == 28 and again.catalog.shards == 3


def test_bad_arguments_are_refused(tmp_path, local_cluster):
    with pytest.raises(ClusterError, match="shards"):
        ClusterIndex.create(tmp_path / "x", address=local_cluster.scheduler_address, shards=0)
    with pytest.raises(ClusterError, match="no cluster index"):
        ClusterIndex.open(tmp_path / "missing", address=local_cluster.scheduler_address)
    with pytest.raises(ClusterError, match="workers"):
        ClusterIndex.create(
            tmp_path / "y", address=local_cluster.scheduler_address, shards=1, replicas=9
        )


def _kill_replica(cluster: ClusterIndex, shard: int, replica: int) -> None:
    pid = cluster.replicas.call(shard, replica, "pid")
    address = cluster.replicas.actor(shard, replica).address
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the nanny brings a new worker up
        # Three workers again, the dead one not among them: until the scheduler has
        # dropped it, a count of three may still include it, and a search then would
        # find its replacement not yet there (and place the replica elsewhere).
        workers = cluster.replicas.workers()
        if len(workers) == 3 and address not in workers:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.2)


def test_sigkill_during_service_loses_no_acknowledged_write(tmp_path, local_cluster):
    docs = _corpus(90, seed=8)
    with Index.create(tmp_path / "single", workers=1) as single:
        single.add(docs)
        expected = single.search("gempa pembangunan", limit=20)
    root = tmp_path / "c"
    with ClusterIndex.create(
        root, address=local_cluster.scheduler_address, shards=3, replicas=2
    ) as cluster:
        cluster.add(docs)  # acknowledged: every replica committed
        _kill_replica(cluster, 0, 0)
        got = cluster.search("gempa pembangunan", limit=20)  # the other replica answers
        assert got.shards == {"total": 3, "successful": 3, "failed": 0, "failures": []}
        _same_ranking(got, expected)
        _kill_replica(cluster, 1, 0)
        _kill_replica(cluster, 1, 1)  # both replicas of shard 1: reopened from disk
        assert len(cluster) == len(docs)
        _same_ranking(cluster.search("gempa pembangunan", limit=20), expected)


def test_a_shard_that_cannot_answer_makes_the_result_partial(tmp_path, local_cluster):
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=3
    ) as cluster:
        cluster.add(_corpus(60))
        complete = cluster.search("gempa", limit=100)
        broken = shard_of(complete[0].id, 3)
        original = cluster.replicas.actor

        def failing(shard, replica, analyzer=None):
            if shard == broken:
                raise OSError("disk gone")
            return original(shard, replica, analyzer)

        cluster.replicas.actor = failing  # type: ignore[method-assign]
        partial = cluster.search("gempa", limit=100)
    assert partial.shards["failed"] == 1 and partial.shards["successful"] == 2
    assert "disk gone" in partial.shards["failures"][0]["reason"]
    assert partial.total < complete.total
    assert all(shard_of(h.id, 3) != broken for h in partial)
    assert partial.to_dict()["shards"]["failed"] == 1


def test_cli_index_query_and_status_on_the_cluster(tmp_path, local_cluster):
    source = tmp_path / "news.jsonl"
    source.write_text("\n".join(json.dumps(d) for d in _corpus(40)) + "\n", "utf-8")
    runner = CliRunner()
    base = ["--cluster", local_cluster.scheduler_address, "--root", str(tmp_path / "c")]
    made = runner.invoke(cli, [*base, "index", "--shards", "2", str(source)])
    assert made.exit_code == 0, made.output
    assert "40 articles" in made.output
    found = runner.invoke(cli, [*base, "query", "--json", "gempa"])
    assert found.exit_code == 0, found.output
    data = json.loads(found.output)
    assert data["total"] > 0 and data["shards"]["failed"] == 0
    status = runner.invoke(cli, [*base, "cluster", "status", "--json"])
    assert status.exit_code == 0, status.output
    analyzed = runner.invoke(cli, [*base, "analyze", "--json", "membangun"])
    assert analyzed.exit_code == 0 and '"term": "bangun"' in analyzed.output
    repaired = runner.invoke(cli, [*base, "cluster", "repair"])
    assert repaired.exit_code == 0 and "no stale replicas" in repaired.output
    rows = json.loads(status.output)["replicas"]
    assert sum(r["documents"] for r in rows) == 40 and {r["health"] for r in rows} == {"ok"}
    for command in (["stats", "--json"], ["check"], ["similar", "n1"], ["delete", "n2"]):
        done = runner.invoke(cli, [*base, *command])
        assert done.exit_code == 0, (command, done.output)
    assert json.loads(runner.invoke(cli, [*base, "stats", "--json"]).output)["articles"] == 39
    again = runner.invoke(cli, [*base, "index", "--rebuild", str(source)])
    assert again.exit_code != 0 and "--rebuild" in again.output
    no_root = runner.invoke(cli, ["--cluster", local_cluster.scheduler_address, "query", "x"])
    assert no_root.exit_code != 0 and "--root" in no_root.output


def test_cli_keeps_replicas_on_the_workers_disks(tmp_path, local_cluster):
    source = tmp_path / "news.jsonl"
    source.write_text("\n".join(json.dumps(d) for d in _corpus(30)) + "\n", "utf-8")
    runner = CliRunner()
    base = ["--cluster", local_cluster.scheduler_address, "--root", str(tmp_path / "c")]
    disks = str(tmp_path / "disk-{worker}")
    made = runner.invoke(cli, [*base, "index", "--replicas", "2", "--data-dir", disks, str(source)])
    assert made.exit_code == 0, made.output
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["catalog.json"]
    assert len(_replica_dirs(tmp_path)) == 8  # 4 shards, 2 replicas, on the workers' disks
    found = runner.invoke(cli, [*base, "query", "--json", "gempa"])
    assert found.exit_code == 0 and json.loads(found.output)["total"] > 0
    relative = runner.invoke(
        cli, ["--cluster", local_cluster.scheduler_address, "--root", str(tmp_path / "d"),
              "index", "--data-dir", "disks/{worker}", str(source)]
    )  # fmt: skip
    assert relative.exit_code != 0 and "absolute" in relative.output


def test_add_files_reads_on_the_workers(tmp_path, local_cluster):
    docs = _corpus(50, seed=9)
    local = tmp_path / "part1.jsonl"
    local.write_text("\n".join(json.dumps(d) for d in docs[:30]) + "\n{not json\n", "utf-8")
    # A URL read on the workers (memory:// would be each process's own store).
    url_twin = tmp_path / "part2.jsonl"
    url_twin.write_text("\n".join(json.dumps(d) for d in docs[30:]) + "\n", "utf-8")
    seen = []
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=3, replicas=2
    ) as cluster:
        summary = cluster.add_files(
            [str(local), f"file://{url_twin}", str(tmp_path / "missing.jsonl"), "-"],
            batch_size=7,
            on_progress=seen.append,
        )
        assert summary.added == 50 and summary.updated == 0
        wanted = {f"{local}:31", str(tmp_path / "missing.jsonl"), "-"}
        assert {b.location for b in summary.bad} >= wanted and summary.skipped == 3
        assert "standard input" in next(b.reason for b in summary.bad if b.location == "-")
        assert len(cluster) == 50 and len(seen) == 2
        again = cluster.add_files([str(local)])  # upserts: safe to run again
        assert again.added == 0 and again.updated == 30 and len(cluster) == 50
        assert all(r["health"] == "ok" for r in cluster.status()["replicas"])


def test_fetch_copies_an_fsspec_url(tmp_path):
    import fsspec

    from searchlib.cluster.ingest import _fetch, is_url

    with fsspec.open("memory://searchlib/news.jsonl.gz", "wb") as handle:
        handle.write(b"abc")
    copy = _fetch("memory://searchlib/news.jsonl.gz", tmp_path)
    assert copy.name == "news.jsonl.gz" and copy.read_bytes() == b"abc"
    assert is_url("s3://bucket/x.jsonl") and not is_url("file:///x") and not is_url("/x")


def test_batch_similar_and_statistics_follow_writes(tmp_path, local_cluster):
    docs = _corpus(80, seed=10)
    address = local_cluster.scheduler_address
    with Index.create(tmp_path / "single", workers=1) as single:
        single.add(docs)
        with ClusterIndex.create(tmp_path / "c", address=address, shards=3) as cluster:
            with cluster.batch() as batch:
                batch.add(docs)
                batch.delete("n79")
            single.delete("n79")
            assert len(cluster) == 79
            _same_ranking(cluster.similar("n3", limit=8), single.similar("n3", limit=8))
            assert "n3" not in cluster.similar("n3").ids()
            with pytest.raises(ValueError, match="no article"):
                cluster.similar("missing")
            before = cluster.search("banjir").total
            # Another client writes: this one's cached statistics must not be used.
            with ClusterIndex.open(tmp_path / "c", address=address) as other:
                other.add({"id": "new", "title": "banjir", "body": "banjir banjir"})
            single.add({"id": "new", "title": "banjir", "body": "banjir banjir"})
            after = cluster.search("banjir", limit=20)
            assert after.total == before + 1
            _same_ranking(after, single.search("banjir", limit=20))


def test_http_api_over_a_cluster(tmp_path, local_cluster):
    from starlette.testclient import TestClient

    from searchlib.server import create_app

    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=2
    ) as cluster:
        cluster.add(_corpus(20, seed=12))
        client = TestClient(create_app(cluster))
        found = client.get("/search", params={"q": "gempa"}).json()
        assert found["shards"]["failed"] == 0 and found["total"] >= 1
        assert client.get("/articles/n1").json()["id"] == "n1"


def test_prefix_and_fuzzy_expand_over_every_shard(tmp_path, local_cluster):
    # 150 words share a prefix (more than MAX_EXPANSIONS); their frequencies differ by
    # shard, so each shard on its own would choose other expansions than one index.
    rng = random.Random(21)
    words = [f"kata{number:03d}" for number in range(150)]
    docs = [
        {"id": f"k{i}", "title": "", "body": " ".join(rng.choices(words, k=rng.randint(1, 6)))}
        for i in range(300)
    ]
    with Index.create(tmp_path / "single", workers=1) as single:
        single.add(docs)
        with ClusterIndex.create(
            tmp_path / "c", address=local_cluster.scheduler_address, shards=4
        ) as cluster:
            cluster.add(docs)
            for query in ("kata*", "kata1*", "kata05~1", "kata*  kata120"):
                want = single.search(query, limit=30)
                got = cluster.search(query, limit=30)
                assert got.total == want.total, query
                _same_ranking(got, want)


def _record_rounds(cluster: ClusterIndex) -> list[dict[int, str]]:
    """Each round of search steps the cluster sends from now on: shard -> step."""
    rounds: list[dict[int, str]] = []
    original = cluster.replicas.scatter

    def recording(calls, method="search_step", **options):
        rounds.append(
            {shard: args[0] if method == "search_step" else method for shard, args in calls.items()}
        )
        return original(calls, method, **options)

    rank_round = cluster.replicas.rank_round

    def recording_rank_round(messages):
        # One request per worker; "rank_round+statistics": the workers sum them.
        round_ = {}
        for message in messages.values():
            work = pickle.loads(message)
            step = "rank_round+statistics" if work.sources else "rank_round"
            round_.update(dict.fromkeys((shard for shard, _replica in work.ranked), step))
        rounds.append(round_)
        return rank_round(messages)

    cluster.replicas.scatter = recording  # type: ignore[method-assign]
    cluster.replicas.rank_round = recording_rank_round  # type: ignore[method-assign]
    return rounds


def test_expansions_and_statistics_take_one_round_cached_per_shard(tmp_path, local_cluster):
    docs = _corpus(60, seed=13)
    single = Index.create(tmp_path / "single", workers=1)
    single.add(docs)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=3
    ) as cluster:
        cluster.add(docs)
        rounds = _record_rounds(cluster)
        query = "war* pem* +gempu~ banjir"  # three prefix or fuzzy clauses
        first = cluster.search(query)
        # Expansions and statistics in one round, then rank with the page's hits.
        assert [set(r.values()) for r in rounds] == [{"prepare"}, {"rank_round"}]
        assert len(rounds[0]) == 3
        _same_ranking(first, single.search(query))
        rounds.clear()
        second = cluster.search(query)
        assert [set(r.values()) for r in rounds] == [{"rank_round"}]  # cached
        assert [(h.id, h.score) for h in second] == [(h.id, h.score) for h in first]
        # A write to one shard prepares that shard's part again, and only it.
        written = {"id": "x", "title": "gempa warga", "body": "gempa warga pembangunan"}
        cluster.add(written)
        single.add(written)
        rounds.clear()
        third = cluster.search(query, limit=50)
        assert rounds[0] == {shard_of("x", 3): "prepare"}
        assert "x" in third.ids()
        _same_ranking(third, single.search(query, limit=50))
        # Words alone need no expansion: compiled on the client, and only their
        # statistics asked of the shards, in one round.
        rounds.clear()
        plain = cluster.search("gempa banjir")
        assert [set(r.values()) for r in rounds] == [{"term_statistics"}, {"rank_round"}]
        _same_ranking(plain, single.search("gempa banjir"))
        # Terms every shard has counted serve other queries of them: one round.
        for other in ("banjir gempa", "gempa"):
            rounds.clear()
            got = cluster.search(other)
            assert [set(r.values()) for r in rounds] == [{"rank_round"}], other
            _same_ranking(got, single.search(other))
        # A write to one shard: only that shard counts them again.
        written = {"id": "y", "title": "banjir bandang", "body": "banjir gempa banjir"}
        cluster.add(written)
        single.add(written)
        rounds.clear()
        after = cluster.search("banjir gempa")
        assert rounds[0] == {shard_of("y", 3): "term_statistics"}
        assert "y" in after.ids()
        _same_ranking(after, single.search("banjir gempa"))
    single.close()


def test_term_statistics_are_kept_per_shard_generation_and_bounded():
    cache = ShardTermCache(capacity=3)
    totals = ({"body": 10}, {"body": 100.0})
    cache.store(0, 5, (*totals, {("body", "a"): 2, ("body", "b"): 1}))
    assert cache.lookup(0, 5, [("body", "a")]) == (*totals, {("body", "a"): 2})
    assert cache.lookup(0, 5, [("body", "a"), ("body", "c")]) is None  # one unknown
    assert cache.lookup(0, 6, [("body", "a")]) is None  # the shard was written
    assert cache.lookup(1, 5, [("body", "a")]) is None  # another shard
    cache.store(0, 5, (*totals, {("body", "c"): 4}))  # more of the same commit
    assert cache.lookup(0, 5, [("body", "a"), ("body", "c")]) == (
        *totals,
        {("body", "a"): 2, ("body", "c"): 4},
    )
    cache.store(0, 5, (*totals, {("body", "d"): 1}))  # past the bound: starts again
    assert cache.lookup(0, 5, [("body", "a")]) is None
    assert cache.lookup(0, 5, [("body", "d")]) == (*totals, {("body", "d"): 1})
    moved = ({"body": 11}, {"body": 105.0}, {("body", "a"): 3})
    cache.store(0, 6, moved)
    assert cache.lookup(0, 5, [("body", "d")]) is None
    assert cache.lookup(0, 6, [("body", "a")]) == moved


def test_an_expansion_too_wide_to_prepare_is_expanded_in_steps(tmp_path, local_cluster):
    # 6,000 terms start with "kode" (3,000 a shard): more than one preparation carries.
    docs = [
        {"id": f"k{n}", "body": " ".join(f"kode{n * 20 + i}x" for i in range(20)) + " gempa"}
        for n in range(300)
    ]
    docs += [{"id": f"g{n}", "body": "kode1x kode1x gempa"} for n in range(5)]
    single = Index.create(tmp_path / "single", workers=1)
    single.add(docs)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=2
    ) as cluster:
        cluster.add(docs)
        rounds = _record_rounds(cluster)
        got = cluster.search("kode* gempa", limit=20)
        steps = [set(r.values()) for r in rounds]
        assert steps[0] == {"prepare"} and {"prefix_counts"} in steps and {"statistics"} in steps
        _same_ranking(got, single.search("kode* gempa", limit=20))
    single.close()


def test_the_fetch_reads_the_commit_the_ranking_read(tmp_path, local_cluster, monkeypatch):
    """Point in time: a write committed between the rank and fetch rounds changes
    nothing in the page: the hits come from the replica and commit that ranked them."""
    monkeypatch.setattr(cluster_search, "PREFETCH_SHARE", 0.0)  # every hit fetched
    monkeypatch.setattr(cluster_search, "prefetch_count", lambda window, share: 0)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=2, replicas=2
    ) as cluster:
        cluster.add(_corpus(80, seed=31))
        want = cluster.search("gempa banjir", limit=5)
        top = want.hits[0]
        original = cluster.replicas.rank_round
        changed: list[str] = []

        def write_between(messages):
            answers = original(messages)
            cluster.add({**top.fields, "id": top.id, "title": "diganti"})
            cluster.delete(want.hits[1].id)
            changed.append("written")
            return answers

        cluster.replicas.rank_round = write_between  # type: ignore[method-assign]
        got = cluster.search("gempa banjir", limit=5)
        cluster.replicas.rank_round = original  # type: ignore[method-assign]
        assert changed == ["written"]
        # Every ranked hit is there, as it was when ranked.
        assert [(h.id, h.fields["title"]) for h in got] == [(h.id, h.fields["title"]) for h in want]
        assert cluster.get(top.id)["title"] == "diganti"
        assert want.hits[1].id not in cluster.search("gempa banjir", limit=50).ids()


def test_a_round_sends_one_request_per_worker(tmp_path, local_cluster, monkeypatch):
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=6
    ) as cluster:
        cluster.add(_corpus(120, seed=41))
        log: list[list[int]] = []  # by round: the steps each request carries

        def counting(client, requests, *rest):
            log.append([_steps_carried(method, blob) for _h, method, blob in requests.values()])
            return ask_workers(client, requests, *rest)

        monkeypatch.setattr(cluster_replicas, "ask_workers", counting)
        results = cluster.search("gempa banjir", facets=FACETS)
        assert results.total > 0 and results.shards["successful"] == 6
        # Two rounds (a third only if one shard holds more of the page than it sent)
        # over 6 shards on 3 workers: 3 requests a round, not 6, each for 2 shards.
        assert len(log) in (2, 3) and all(len(requests) <= 3 for requests in log)
        assert sorted(log[0]) == [2, 2, 2] and sorted(log[1]) == [2, 2, 2]


def _forget_round_hosts(dask_worker) -> int:
    """On a worker: drop every host from its round handler (as if it never started)."""
    hosts = dask_worker.extensions["searchlib-rounds"].hosts
    count = len(hosts)
    hosts.clear()
    return count


def test_rounds_reach_a_host_through_its_worker_handler(tmp_path, local_cluster, monkeypatch):
    docs = _corpus(90, seed=43)
    single = Index.create(tmp_path / "single", workers=1)
    single.add(docs)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=3
    ) as cluster:
        cluster.add(docs)
        answers: list[list[object]] = []

        def recording(client, requests, *rest):
            found = ask_workers(client, requests, *rest)
            answers.append(list(found.values()))
            return found

        monkeypatch.setattr(cluster_replicas, "ask_workers", recording)
        _same_ranking(cluster.search("gempa banjir"), single.search("gempa banjir"))
        assert answers and not any(isinstance(a, BaseException) for r in answers for a in r)
        # A worker whose handler lost its host (a restarted worker): the round fails
        # there, the search is answered through the replicas' actors, and reopening
        # them serves rounds again.
        assert all(cluster.client.run(_forget_round_hosts).values())  # each has one
        answers.clear()
        _same_ranking(cluster.search("gempa banjir"), single.search("gempa banjir"))
        assert any(isinstance(a, ReplicaNotOpen) for r in answers for a in r)
        answers.clear()
        _same_ranking(cluster.search("banjir"), single.search("banjir"))
        assert answers and not any(isinstance(a, BaseException) for r in answers for a in r)


def test_a_round_to_a_worker_known_to_be_gone_fails_at_once(tmp_path, local_cluster):
    # A dead worker's address refuses connections, and Dask retries those for its
    # connect timeout (30 s): a round asks first whether the host's actor still runs
    # (its future errs within milliseconds of the worker's death) and fails its request
    # without sending it, so the search fails over at once.
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=2
    ) as cluster:
        cluster.add(_corpus(40, seed=44))
        cluster.search("gempa")  # the hosts are up
        replicas = cluster.replicas
        address = next(iter(replicas._hosts))
        assert replicas._host_alive(address)
        message = pickle.dumps([], protocol=pickle.HIGHEST_PROTOCOL)
        request = {address: (replicas._host_name(address), "steps", message)}
        assert ask_workers(cluster.client, request, 30.0, replicas._host_alive) == {address: []}
        gone = ask_workers(cluster.client, request, 30.0, lambda address: False)
        assert isinstance(gone[address], ConnectionError) and "gone" in str(gone[address])


class _NeverDone:
    """An actor call that never finishes (its worker died before it was sent)."""

    def result(self, timeout=None):
        time.sleep(timeout or 0)
        raise TimeoutError

    def done(self):
        return False


def test_a_call_waits_only_while_its_worker_runs(tmp_path, monkeypatch):
    # A call (a write, say) to a worker that died is failed as soon as its host's
    # actor is known lost, not after Dask's 30 s of connect retries; one to a live
    # but silent worker still times out at CALL_TIMEOUT.
    replicas = ReplicaSet(None, tmp_path, Catalog(1, 1))
    alive = {"tcp://127.0.0.1:1": True}
    monkeypatch.setattr(replicas, "_host_alive", lambda address: alive[address])
    monkeypatch.setattr(cluster_replicas, "CALL_TIMEOUT", 0.3)
    with pytest.raises(TimeoutError):
        replicas._result("tcp://127.0.0.1:1", _NeverDone())
    # A call that finishes just as a look times out is answered, not failed.
    assert replicas._result("tcp://127.0.0.1:1", _DoneJustAfter()) == "committed"
    alive["tcp://127.0.0.1:1"] = False
    with pytest.raises(ConnectionError, match="is gone"):
        replicas._result("tcp://127.0.0.1:1", _NeverDone())


class _DoneJustAfter:
    """An actor call that finishes the moment its first wait times out."""

    def __init__(self):
        self.finished = False

    def result(self, timeout=None):
        if not self.finished:
            self.finished = True
            raise TimeoutError
        return "committed"

    def done(self):
        return self.finished


def _steps_carried(method: str, message: bytes) -> int:
    """The shards one request of a round carries."""
    work = pickle.loads(message)
    return len(work) if method == "steps" else len(work.ranked)


def test_sigkill_during_a_write_marks_the_replica_stale_then_repairs_it(tmp_path, local_cluster):
    docs = _corpus(400, seed=14)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=2, replicas=2
    ) as cluster:
        cluster.add(docs[:100])  # acknowledged
        victim = cluster.replicas.call(0, 1, "pid")
        original = cluster.replicas.actor

        def kill_then_send(shard, replica, analyzer=None):
            actor = original(shard, replica, analyzer)
            if (shard, replica) == (0, 1) and victim is not None:
                os.kill(victim, signal.SIGKILL)  # dies with the write in flight
            return actor

        cluster.replicas.actor = kill_then_send  # type: ignore[method-assign]
        with pytest.raises(ClusterError, match="not acknowledged"):
            cluster.add(docs[100:])
        cluster.replicas.actor = original  # type: ignore[method-assign]
        victim = None
        # The killed worker held replica (0, 1), and maybe others: each is stale now.
        stale = {tuple(pair) for pair in cluster.catalog.stale}
        assert (0, 1) in stale
        health = {(r["shard"], r["replica"]): r["health"] for r in cluster.status()["replicas"]}
        assert all(health[pair] == "stale" for pair in stale)
        assert all(cluster.get(d["id"]) is not None for d in docs[:100])  # acknowledged
        assert set(cluster.repair()) == stale
        assert cluster.repair() == []
        assert cluster.catalog.stale == [] and cluster.check() == []
        counts = {(r["shard"], r["replica"]): r["documents"] for r in cluster.status()["replicas"]}
        assert counts[(0, 0)] == counts[(0, 1)] and counts[(1, 0)] == counts[(1, 1)]
        cluster.add(docs[100:])  # the same write again, now acknowledged everywhere
        assert len(cluster) == 400


def _replica_dirs(disks: Path) -> dict[tuple[str, int, int], Path]:
    """Every replica directory on the workers' disks: (disk, shard, replica) -> path."""
    found = {}
    for path in disks.glob("disk-*/*/shard-*/replica-*"):
        shard = int(path.parent.name.removeprefix("shard-"))
        replica = int(path.name.removeprefix("replica-"))
        found[path.parts[-4], shard, replica] = path
    return found


def test_local_disks_recover_a_lost_replica_from_a_peer(tmp_path, local_cluster):
    """Each worker keeps its replicas on its own disk; a worker killed with its disk
    lost gets them back by peer recovery (files copied between the workers through
    Dask, checked), never served empty, while the other replicas answer."""
    with ClusterIndex.create(
        tmp_path / "c",
        address=local_cluster.scheduler_address,
        shards=2,
        replicas=2,
        data_dir=str(tmp_path / "disk-{worker}"),
    ) as cluster:
        docs = _corpus(120, seed=51)
        cluster.add(docs)
        assert [p.name for p in (tmp_path / "c").iterdir()] == ["catalog.json"]
        placement = cluster.catalog.placement
        dirs = _replica_dirs(tmp_path)
        assert {(disk, s, r) for disk, s, r in dirs} == {
            (f"disk-{placement[f'{s}/{r}']}", s, r) for s in range(2) for r in range(2)
        }
        assert placement["0/0"] != placement["0/1"] and placement["1/0"] != placement["1/1"]
        want = [(h.id, h.score) for h in cluster.search("gempa banjir", limit=20)]
        victim = placement["0/1"]
        shutil.rmtree(tmp_path / f"disk-{victim}")  # the disk is lost with the worker
        _kill_replica(cluster, 0, 1)
        for _ in range(6):  # searches go on; each replica is asked in turn
            got = cluster.search("gempa banjir", limit=20)
            assert [(h.id, h.score) for h in got] == want
        lost = [(s, r) for s in range(2) for r in range(2) if placement[f"{s}/{r}"] == victim]
        for shard, replica in lost:  # each recovered from its peer, on the same worker
            count = cluster.replicas.call(shard, replica, "count")
            assert count == cluster.replicas.call(shard, 1 - replica, "count") > 0
            assert (tmp_path / f"disk-{victim}").exists()
        assert cluster.catalog.stale == [] and cluster.check() == []
        assert len(cluster) == 120 and cluster.catalog.placement["0/1"] == victim


def test_a_replica_whose_worker_is_gone_moves_to_another_worker(tmp_path):
    """Placement on local disks: a replica whose worker left for good is placed on a
    live worker holding no other replica of its shard, and marked for recovery."""
    catalog = Catalog(2, 2, data_dir=str(tmp_path / "d-{worker}"), cluster_id="c1")
    replicas = ReplicaSet(None, tmp_path, catalog)
    names = {"tcp://a": "a", "tcp://b": "b", "tcp://c": "c"}
    placed = {(s, r): names[replicas._place(s, r, names)] for s in range(2) for r in range(2)}
    assert placed[0, 0] != placed[0, 1] and placed[1, 0] != placed[1, 1]
    assert catalog.stale == []
    gone = placed[0, 1]
    alive = {address: name for address, name in names.items() if name != gone}
    moved = alive[replicas._place(0, 1, alive)]
    assert moved not in (gone, placed[0, 0]) and catalog.stale == [[0, 1]]
    assert Catalog.read(tmp_path).placement["0/1"] == moved
    path = catalog.replica_location(tmp_path, 0, 1, moved)
    assert path == tmp_path / f"d-{moved}" / "c1" / "shard-000" / "replica-1"


def test_one_shard_answers_in_one_step_and_equals_one_index(tmp_path, local_cluster):
    docs = _corpus(120, seed=15)
    with Index.create(tmp_path / "single", workers=1) as single:
        single.add(docs)
        with ClusterIndex.create(
            tmp_path / "c", address=local_cluster.scheduler_address, shards=1
        ) as cluster:
            cluster.add(docs)
            rounds = _record_rounds(cluster)
            for text, options in _queries(25, seed=16):
                want = single.search(text, limit=7, offset=2, facets=FACETS, **options)
                got = cluster.search(text, limit=7, offset=2, facets=FACETS, **options)
                assert got.total == want.total and got.facets == want.facets, text
                _same_ranking(got, want)
                assert [h.rank for h in got] == [h.rank for h in want]
            steps = {step for sent in rounds for step in sent.values()}
            assert steps <= {"page", "prepare"}  # prepare: a query that expands


def test_a_query_error_from_a_shard_is_not_a_replica_failure(tmp_path, local_cluster):
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=2, replicas=2
    ) as cluster:
        cluster.add(_corpus(20))
        replicas = cluster.replicas
        before = dict(replicas._actors)
        calls: list[tuple] = []
        call = replicas.call

        def counted(*args):
            calls.append(args)
            return call(*args)

        replicas.call = counted  # type: ignore[method-assign]
        with pytest.raises(QueryError, match="unknown search step"):
            replicas.read(0, "search_step", "no_such_step")
        assert len(calls) == 1  # no retry on the other replica, no second round
        with pytest.raises(QueryError, match="unknown search step"):
            replicas.scatter({0: ("no_such_step",), 1: ("no_such_step",)})
        assert replicas._actors == before  # no replica forgotten or recreated
        assert cluster.catalog.stale == []
        assert cluster.search("gempa").shards["failed"] == 0


def test_writes_go_to_every_shard_before_any_is_awaited(tmp_path, local_cluster):
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=4
    ) as cluster:
        replicas = cluster.replicas
        events: list[tuple[str, int]] = []
        start, finish = replicas.start_write, replicas.finish_write

        def started(shard, *args):
            events.append(("start", shard))
            return start(shard, *args)

        def finished(pending):
            events.append(("finish", pending.shard))
            return finish(pending)

        replicas.start_write = started  # type: ignore[method-assign]
        replicas.finish_write = finished  # type: ignore[method-assign]
        assert cluster.add(_corpus(40)) == 40
        kinds = [kind for kind, _shard in events]
        assert kinds == ["start"] * 4 + ["finish"] * 4  # all sent, then all awaited
        assert len(cluster) == 40 and cluster.check() == []


def test_the_suggestion_sums_the_shards_frequencies(tmp_path, local_cluster):
    # "evakuasu" is in two articles, on two shards: rare on each, not in the index.
    typo_ids = []
    for number in range(200):
        doc_id = f"t{number}"
        if shard_of(doc_id, 4) not in {shard_of(i, 4) for i in typo_ids}:
            typo_ids.append(doc_id)
        if len(typo_ids) == 2:
            break
    docs = [{"id": f"e{n}", "body": f"Evakuasi warga hari ke {n}"} for n in range(40)]
    docs += [{"id": doc_id, "body": "Evakuasu warga ditunda"} for doc_id in typo_ids]
    single = Index.create(tmp_path / "single")
    single.add(docs)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=4
    ) as cluster:
        cluster.add(docs)
        for text in ("evakuasu", "evakuasu warga", "evakuas1 warga", "Evakuasy"):
            want = single.search(text, suggest=True).suggestion
            assert cluster.search(text, suggest=True).suggestion == want, text
        assert single.search("evakuasu", suggest=True).suggestion is None  # two articles
        assert cluster.search("evakuas1", suggest=True).suggestion == "evakuasi"
    single.close()


def test_shard_statistics_answer_in_one_round(tmp_path, local_cluster, monkeypatch):
    docs = _corpus(200, seed=8)
    with (
        Index.create(tmp_path / "single", workers=1) as single,
        ClusterIndex.create(
            tmp_path / "cluster", address=local_cluster.scheduler_address, shards=3
        ) as cluster,
    ):
        single.add(docs)
        cluster.add(docs)
        rounds = _record_rounds(cluster)
        overlap = compared = 0
        for text, options in _queries(40, seed=12):
            if "*" in text:
                continue  # a prefix is expanded over the shards' vocabularies first
            rounds.clear()
            got = cluster.search(text, statistics="shard", **options)
            # One round, ranking every shard; rarely a fetch of what a worker held back.
            assert rounds[0] == dict.fromkeys(range(3), "rank_round"), text
            assert len(rounds) == 1 or set(rounds[1].values()) == {"fetch"}, text
            want = single.search(text, **options)
            assert got.total == want.total, text
            assert [h.rank for h in got] == list(range(1, len(got) + 1))
            assert all(h.snippet is not None for h in got)
            compared += 1
            overlap += len(set(got.ids()) & set(want.ids())) / max(1, len(want.ids()))
        # Shards of ~67 articles have their own statistics: pages differ, but mostly agree.
        assert compared >= 30 and overlap / compared >= 0.4
        with pytest.raises(QueryError, match="statistics"):
            cluster.search("gempa", statistics="local")


def test_searches_are_answered_while_a_write_runs(tmp_path, local_cluster):
    """A replica answers searches from its current snapshot while its write waits:
    the test holds both replicas' writer locks, so their write threads wait for them;
    searches are answered meanwhile and see only what was committed before."""
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=1, replicas=2
    ) as cluster:
        cluster.add(_corpus(50))
        paths = [cluster.catalog.replica_path(tmp_path / "c", 0, r) for r in range(2)]
        locks = [WriterLock(path, timeout=5).acquire() for path in paths]
        held = threading.Event()
        held.set()

        def release() -> None:
            held.clear()
            for lock in locks:
                lock.release()

        timer = threading.Timer(4.0, release)
        timer.start()
        try:
            written = [{**doc, "id": f"w{n}"} for n, doc in enumerate(_corpus(30, seed=21))]
            pending = cluster.replicas.start_write(0, "add", written)
            answered = 0
            while held.is_set() and answered < 10:
                results = cluster.search("gempa banjir", limit=50)
                count = len(cluster)
                if held.is_set():  # answered while the write waited
                    answered += 1
                    assert count == 50 and not any(h.id.startswith("w") for h in results)
        finally:
            timer.join()
        assert cluster.replicas.finish_write(pending) == 30
        assert answered >= 3, "searches waited for the write"
        assert len(cluster) == 80 and cluster.check() == []


def test_clients_share_the_workers_hosts_and_their_open_replicas(tmp_path, local_cluster):
    # A second client (a `search` command, another process) finds each worker's host
    # with the replicas open, even after the first client left; `release` closes them,
    # and the next client opens them again from disk.
    address = local_cluster.scheduler_address
    root = tmp_path / "c"
    with ClusterIndex.create(root, address=address, shards=2, replicas=2) as first:
        first.add(_corpus(40))
        expected = first.search("gempa", limit=10).ids()
        hosts = {a: first.replicas._host(a).key for a in first.replicas.workers()}
    with ClusterIndex.open(root, address=address) as second:
        assert second.search("gempa", limit=10).ids() == expected
        assert {a: second.replicas._host(a).key for a in second.replicas.workers()} == hosts
        second.close(release=True)
    with ClusterIndex.open(root, address=address) as third:
        assert third.search("gempa", limit=10).ids() == expected
        again = {a: third.replicas._host(a).key for a in third.replicas.workers()}
        assert not set(again.values()) & set(hosts.values())
        third.close(release=True)


def test_collapse_over_shards_equals_one_index(tmp_path, local_cluster):
    from .test_collapse import copies_of_seed

    copies = copies_of_seed()
    docs = _corpus(120, seed=21) + copies + [{**c, "id": f"{c['id']}-2"} for c in copies]
    with Index.create(tmp_path / "single", workers=1) as single:
        single.add(docs)
        for shards in (3, 1):
            with ClusterIndex.create(
                tmp_path / f"c{shards}", address=local_cluster.scheduler_address, shards=shards
            ) as cluster:
                cluster.add(docs)
                assert len({shard_of(c["id"], 3) for c in copies}) > 1  # copies split
                for text in ("penerbangan evakuasi Kabul", "militer rusia", "gempa warga"):
                    for offset in (0, 3):
                        want = single.search(text, limit=4, offset=offset, collapse=True)
                        got = cluster.search(text, limit=4, offset=offset, collapse=True)
                        _same_ranking(got, want)

                        def groups(results):
                            return {
                                frozenset([h.id, *(c.id for c in h.duplicates)]) for h in results
                            }

                        assert groups(got) == groups(want), text
                top = cluster.search("penerbangan evakuasi Kabul", collapse=True)[0]
                assert len(top.duplicates) == 7
                assert {c.source for c in top.duplicates} >= {"antara", "tempo", "kompas"}
                assert any(c.published == "2021-08-31T08:00:00+00:00" for c in top.duplicates)
                want_copies = single.duplicates("original")
                got_copies = cluster.duplicates("original")
                assert sorted((c.id, c.similarity) for c in got_copies) == sorted(
                    (c.id, c.similarity) for c in want_copies
                )
                similarities = [c.similarity for c in got_copies]
                assert similarities == sorted(similarities, reverse=True)
                own = cluster.search(
                    "penerbangan evakuasi Kabul", collapse=True, statistics="shard"
                )
                assert len(own[0].duplicates) == 7
                with pytest.raises(QueryError, match="nope"):
                    cluster.duplicates("nope")


def test_an_answer_that_cannot_be_pickled_travels_as_an_error():
    """A round's answers go back as one pickled blob; an exception that cannot be
    pickled becomes a SearchlibError with its text (its replica counts as failed)
    instead of losing the whole round."""

    class Odd(Exception):
        def __reduce__(self):
            raise TypeError("not picklable")

    answers = pickle.loads(_pickled([(True, 3), (False, Odd("lost its way"))]))
    assert answers[0] == (True, 3)
    ok, error = answers[1]
    assert not ok and isinstance(error, SearchlibError) and "Odd: lost its way" in str(error)


@pytest.mark.parametrize("prefetch", [0, 3, None])
def test_the_first_page_comes_with_the_ranking(tmp_path, local_cluster, monkeypatch, prefetch):
    # Each worker sends the hits of its first keys with its rankings: the client
    # fetches only those of the page it still lacks, from the shards that hold them;
    # with the default count a page of 10 seldom needs the fetch round at all.
    if prefetch is not None:
        monkeypatch.setattr(cluster_search, "prefetch_count", lambda window, share: prefetch)
    docs = _corpus(90, seed=44)
    single = Index.create(tmp_path / "single", workers=1)
    single.add(docs)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=3
    ) as cluster:
        cluster.add(docs)
        rounds = _record_rounds(cluster)
        fetched_rounds = 0
        for query in ("gempa banjir", "warga kota", "pemerintah", "gempa"):
            rounds.clear()
            got = cluster.search(query, limit=10)
            want = single.search(query, limit=10)
            _same_ranking(got, want)
            assert [h.snippet is not None for h in got] == [True] * len(got)
            assert [h.rank for h in got] == list(range(1, len(got) + 1))
            steps = [set(r.values()) for r in rounds]
            assert {"rank_round"} in steps and steps[-1] in ({"rank_round"}, {"fetch"})
            if steps[-1] == {"fetch"}:
                fetched_rounds += 1
                if prefetch == 0:  # every hit fetched, from the shards that hold them
                    assert set(rounds[-1]) == {shard_of(h.id, 3) for h in got}
        if prefetch == 0:
            assert fetched_rounds == 4
        if prefetch is None:
            assert fetched_rounds <= 1
        # A later page is ranked, then fetched.
        rounds.clear()
        later = cluster.search("gempa", limit=5, offset=5)
        _same_ranking(later, single.search("gempa", limit=5, offset=5))
        assert [set(r.values()) for r in rounds][-2:] == [{"rank"}, {"fetch"}]
    single.close()


def test_workers_holding_every_shard_sum_the_statistics_in_the_rank_round(
    tmp_path, local_cluster, monkeypatch
):
    # Three workers, three replicas: each worker holds every shard, so an uncached
    # query's statistics are summed on the workers, in the one rank round.
    docs = _corpus(120, seed=52)
    single = Index.create(tmp_path / "single", workers=1)
    single.add(docs)
    with ClusterIndex.create(
        tmp_path / "c", address=local_cluster.scheduler_address, shards=4, replicas=3
    ) as cluster:
        cluster.add(docs)
        rounds = _record_rounds(cluster)
        for query in ("gempa banjir", "warga kota", "pemerintah daerah"):
            rounds.clear()
            got = cluster.search(query, limit=10)
            _same_ranking(got, single.search(query, limit=10))
            assert set(rounds[0].values()) == {"rank_round+statistics"}, query
            assert len(rounds[0]) == 4 and all(set(r.values()) == {"fetch"} for r in rounds[1:])
            rounds.clear()
            again = cluster.search(query, limit=10)  # the statistics kept: ranked alone
            assert set(rounds[0].values()) == {"rank_round"}, query
            assert [(h.id, h.score) for h in again] == [(h.id, h.score) for h in got]
        # A write moves one shard on: the workers sum again, with it.
        written = {"id": "w1", "title": "gempa banjir", "body": "gempa banjir di kota warga"}
        cluster.add(written)
        single.add(written)
        rounds.clear()
        after = cluster.search("gempa banjir", limit=10)
        assert set(rounds[0].values()) == {"rank_round+statistics"}
        assert "w1" in after.ids()
        _same_ranking(after, single.search("gempa banjir", limit=10))

        # Workers that summed different statistics (a write between two replicas'
        # commits): ranked again, all shards with one set.
        rank_round = cluster.replicas.rank_round

        def one_disagrees(messages):
            answers = rank_round(messages)
            if answers is not None and len(answers) > 1:
                last = answers[list(answers)[-1]]  # the client keeps the first's
                if last.statistics is not None:
                    freqs = {key: freq + 1 for key, freq in last.statistics.doc_freqs.items()}
                    last.statistics = replace(last.statistics, doc_freqs=freqs)
            return answers

        monkeypatch.setattr(cluster.replicas, "rank_round", one_disagrees)
        rounds = _record_rounds(cluster)
        disputed = cluster.search("kota warga", limit=10)
        steps = [set(r.values()) for r in rounds]
        assert steps[:2] == [{"rank_round+statistics"}, {"rank_round"}]
        _same_ranking(disputed, single.search("kota warga", limit=10))
    single.close()


@given(
    window=st.integers(min_value=0, max_value=60),
    share=st.floats(min_value=0.01, max_value=1.0),
)
def test_a_worker_prefetches_its_share_of_a_page_but_for_rare_overflows(window, share):
    count = prefetch_count(window, share)
    assert 0 <= count <= window
    if share >= 1.0:
        assert count == window

    def overflow(held: int) -> float:  # P(more than ``held`` of the page on the worker)
        exact = sum(
            Fraction(math.comb(window, k))
            * Fraction(share) ** k
            * (1 - Fraction(share)) ** (window - k)
            for k in range(held + 1, window + 1)
        )
        return float(exact)

    assert overflow(count) <= OVERFLOW_ODDS + 1e-9
    if count > 0:
        assert overflow(count - 1) > OVERFLOW_ODDS - 1e-9  # the fewest that do


def test_the_largest_page_prefetches_without_overflowing_a_float():
    assert prefetch_count(10_000, 0.5) == pytest.approx(5_100, abs=60)
    assert prefetch_count(10_000, 0.01) < 200
    assert prefetch_count(10, 0.5) == 8  # a page of 10 over 2 workers
