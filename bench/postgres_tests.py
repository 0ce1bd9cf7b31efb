"""What the tests' PostgreSQL costs: starting the private server, creating and dropping a database.

Run: .venv/bin/python -m bench.postgres_tests [--servers 3] [--databases 10]

Each server is started and stopped as a test session does (tests/postgres.py: initdb, start on
a unix socket, stop and delete); on each, databases are created and dropped one after
another, as `fresh_database` does for a test that waits for its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from tests.postgres import create_database, drop_database, embedded_server


async def _database_times(server_url: str, count: int) -> tuple[list[float], list[float]]:
    creates, drops = [], []
    for _ in range(count):
        started = time.perf_counter()
        url = await create_database(server_url)
        created = time.perf_counter()
        await drop_database(server_url, url)
        creates.append(created - started)
        drops.append(time.perf_counter() - created)
    return creates, drops


def _ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.0f} ms (min {min(seconds) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--databases", type=int, default=10)
    args = parser.parse_args()
    starts, creates, drops = [], [], []
    for _ in range(args.servers):
        started = time.perf_counter()
        with embedded_server() as server_url:
            starts.append(time.perf_counter() - started)
            created, dropped = asyncio.run(_database_times(server_url, args.databases))
            creates += created
            drops += dropped
    print(f"server start ({args.servers}): {_ms(starts)}")
    print(f"CREATE DATABASE ({len(creates)}): {_ms(creates)}")
    print(f"DROP DATABASE WITH (FORCE) ({len(drops)}): {_ms(drops)}")


if __name__ == "__main__":
    main()
