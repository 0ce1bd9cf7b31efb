"""What one commit costs on PostgreSQL with and without waiting for the disk.

Run: .venv/bin/python -m bench.commit_cost [--rows 200] [--rounds 2]

A one-row INSERT, each its own transaction, on an embedded PostgreSQL 18 with its default
settings (PARLEY_TEST_DATABASE_URL's server instead, if set), with synchronous_commit on and
off alternately; prints each round's p50 and p90. The figure behind the default of
`storage.synchronous_commit`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time

import asyncpg

from tests.postgres import SERVER_URL_VARIABLE, create_database, embedded_server


async def measure(url: str, rows: int, rounds: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE commit_cost (x integer)")
        for _ in range(rounds):
            for mode in ("on", "off"):
                await conn.execute(f"SET synchronous_commit = {mode}")
                times = []
                for _ in range(rows):
                    started = time.perf_counter()
                    await conn.execute("INSERT INTO commit_cost VALUES (1)")
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                print(
                    f"synchronous_commit {mode:3}: p50 {statistics.median(times):.3f} ms, "
                    f"p90 {times[int(0.9 * len(times))]:.3f} ms ({rows} commits)"
                )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    given = os.environ.get(SERVER_URL_VARIABLE)
    with contextlib.nullcontext(given) if given else embedded_server(durable=True) as server:
        url = asyncio.run(create_database(server))
        asyncio.run(measure(url, arguments.rows, arguments.rounds))


if __name__ == "__main__":
    main()
