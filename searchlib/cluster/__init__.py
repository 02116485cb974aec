"""One searchlib index over many machines, on Dask distributed (``searchlib[cluster]``).

``ClusterIndex`` has the ``Index`` API over shards that are ordinary searchlib index
directories, each kept open on a Dask worker (``ShardReplica``, in the worker's ``ShardHost``
actor), mapped by a catalog
at the cluster's root path. Searches are exact: shards score with global statistics.
"""

from searchlib.cluster.catalog import CATALOG_FILE, Catalog, ClusterError, shard_of
from searchlib.cluster.client import ClusterIndex
from searchlib.cluster.host import ShardHost
from searchlib.cluster.ingest import FileReport
from searchlib.cluster.replica import ShardReplica

__all__ = [
    "CATALOG_FILE",
    "Catalog",
    "ClusterError",
    "ClusterIndex",
    "FileReport",
    "ShardHost",
    "ShardReplica",
    "shard_of",
]
