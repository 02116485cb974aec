"""``search cluster ...``: the state of a cluster index (shards, replicas, workers)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from searchlib.cli import CliState, cli, fail
from searchlib.errors import SearchlibError


def _cluster_call(state: CliState, command: str, method: str) -> Any:
    """Open the cluster index, call ``method``, close it; errors as one line."""
    if not state.cluster:
        raise click.UsageError(f"cluster {command} needs --cluster ADDRESS (or $SEARCHLIB_CLUSTER)")
    try:
        with state.open() as index:
            return getattr(index, method)()
    except SearchlibError as exc:
        fail(exc, state.cluster_root())


@cli.group("cluster")
def cluster_group() -> None:
    """Commands for a cluster index (give --cluster ADDRESS --root DIR)."""


@cluster_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def status_command(state: CliState, as_json: bool) -> None:
    """Shards, replicas, workers, counts and health.

    \b
    Example:
      search --cluster tcp://127.0.0.1:8786 --root /data/news cluster status
    """
    status = _cluster_call(state, "status", "status")
    if as_json:
        click.echo(json.dumps(status))
        return
    state.console.print(f"{len(status['workers'])} workers: {', '.join(status['workers'])}")
    table = Table("shard", "replica", "documents", "health", box=None, padding=(0, 2))
    for row in status["replicas"]:
        table.add_row(
            str(row["shard"]), str(row["replica"]), str(row.get("documents", "-")), row["health"]
        )
    state.console.print(table)


@cluster_group.command("repair")
@click.pass_obj
def repair_command(state: CliState) -> None:
    """Copy every stale replica from a healthy one of its shard."""
    repaired = _cluster_call(state, "repair", "repair")
    if not repaired:
        state.console.print("no stale replicas")
    for shard, replica in repaired:
        state.console.print(f"repaired shard {shard} replica {replica}")
