"""The shard map of a cluster index: a small JSON file at the cluster's root path.

It says how many shards and replicas there are, where each replica's index directory
lives (under the root, a path every worker shares; or, with ``data_dir``, on the local
disk of the worker it is placed on, ``placement``), which replicas are stale (missed an
acknowledged write and must be copied from a healthy one before serving), and
generations that every write through a client moves on, the cluster's and each written
shard's (so cached search statistics are known to be stale, shard by shard). The
catalog is the client's: no worker reads it. It is written atomically (temporary
file, fsync, rename), so a restarted client always finds a whole catalog.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from searchlib.errors import SearchlibError

__all__ = ["CATALOG_FILE", "Catalog", "ClusterError", "shard_of"]

CATALOG_FILE = "catalog.json"
CATALOG_FORMAT = 1


class ClusterError(SearchlibError):
    """A cluster index could not do what was asked (no catalog, no workers, a write
    that not every replica acknowledged)."""


def shard_of(doc_id: str, shards: int) -> int:
    """The shard an article id belongs to: stable across processes and machines."""
    return zlib.crc32(doc_id.encode("utf-8")) % shards


@dataclass
class Catalog:
    shards: int
    replicas: int
    stale: list[list[int]] = field(default_factory=list)  # [shard, replica] pairs
    generation: int = 0  # moves on with every write through a client
    format: int = CATALOG_FORMAT
    # Per shard: moves on with every write through a client that reached the shard.
    shard_generations: list[int] = field(default_factory=list)
    # Local disks: each worker's own directory ("{worker}" is its name), and the worker
    # each replica is placed on ("shard/replica" -> worker name). None: the shared root.
    data_dir: str | None = None
    cluster_id: str = ""
    placement: dict[str, str] = field(default_factory=dict)

    def replica_location(self, root: Path, shard: int, replica: int, worker: str) -> Path:
        """Where replica ``replica`` of ``shard`` lives when opened on ``worker``."""
        if self.data_dir is None:
            return self.replica_path(root, shard, replica)
        base = Path(self.data_dir.replace("{worker}", worker)) / self.cluster_id
        return base / f"shard-{shard:03d}" / f"replica-{replica}"

    def shard_generation(self, shard: int) -> int:
        found = self.shard_generations
        return found[shard] if shard < len(found) else 0

    def moved_on(self, shards: list[int] | None = None) -> None:
        """A write reached ``shards`` (None: every shard)."""
        self.generation += 1
        found = self.shard_generations
        found.extend([0] * (self.shards - len(found)))
        for shard in range(self.shards) if shards is None else shards:
            found[shard] += 1

    def replica_path(self, root: Path, shard: int, replica: int) -> Path:
        return root / f"shard-{shard:03d}" / f"replica-{replica}"

    def is_stale(self, shard: int, replica: int) -> bool:
        return [shard, replica] in self.stale

    @classmethod
    def read(cls, root: Path) -> Catalog:
        path = root / CATALOG_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ClusterError(
                f"no cluster index at {root} (no {CATALOG_FILE}; create one first)"
            ) from None
        except (OSError, ValueError) as exc:
            raise ClusterError(f"unreadable cluster catalog {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
            raise ClusterError(f"cluster catalog {path} has an unknown format")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ClusterError(f"cluster catalog {path} is damaged: {exc}") from None

    def write(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        path = root / CATALOG_FILE
        temp = path.with_name(f"{CATALOG_FILE}.{os.getpid()}.partial")
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
