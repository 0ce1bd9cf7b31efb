"""What a benchmark's PostgreSQL did: its server's CPU seconds, a database's transactions, size."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from bench.replica_group import cpu_seconds
from tests.postgres import database_name


def server_cpu_seconds(server_url: str) -> float:
    """The CPU of the whole server so far: the postmaster, its live backends and workers, and
    those it has reaped (a backend's time moves to its parent's when it ends)."""
    socket = parse_qs(urlsplit(server_url).query)["host"][0]
    # tests/postgres.py keeps the data directory beside the socket's.
    postmaster = int((Path(socket).parent / "data" / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == postmaster:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked: its time is now the postmaster's
    return total


async def database_activity(server_url: str, database_url: str) -> dict[str, Any]:
    """Committed and rolled-back transactions, rows written, and the size of one database;
    and the replies each replica wrote (`replies`, by replica name). Backends report their
    counts when idle or when they end: read once its clients are gone."""
    connection = await asyncpg.connect(server_url)
    try:
        row = await connection.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, "
            "pg_database_size(datname) AS size FROM pg_stat_database WHERE datname = $1",
            database_name(database_url),
        )
    finally:
        await connection.close()
    if row is None:
        raise RuntimeError(f"no statistics for {database_name(database_url)}")
    activity: dict[str, Any] = {key: int(value) for key, value in row.items()}
    activity["replies"] = await _replies_by_replica(database_url)
    return activity


async def _replies_by_replica(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT replica, count(*) FROM messages WHERE role = 'assistant'"
            " GROUP BY replica ORDER BY replica"
        )
    finally:
        await connection.close()
    return {str(replica): int(count) for replica, count in rows}
