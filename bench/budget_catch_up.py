"""What budgets' reads of the usage table cost on PostgreSQL: the watermark (SQLite's way,
which misses rows committed out of id order) against the settling reader replicas use.

Run: .venv/bin/python -m bench.budget_catch_up [--period-rows 20000] [--added 20] [--rounds 200]

A database holds `--period-rows` usage rows of this month; then, `--rounds` times, `--added`
rows arrive (what other replicas spend in 30 s) and each reader catches up. Last, a first
read while another transaction's usage row is uncommitted (the settling reader's worst case).
The server is PARLEY_TEST_DATABASE_URL's, else an embedded one with the tests' settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from core.store import Store, UsageRecord
from core.store import queries as q
from core.store.postgres.dialect import postgres_sql
from core.store.records import UsageRow, usage_params
from core.store.spend import SpendReader, WatermarkSpend
from core.types import ConversationKey
from tests.postgres import SERVER_URL_VARIABLE, create_database, drop_database, embedded_server

NOW = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
KEY = ConversationKey("slack", "T1", "C1", "1700000000.000100")


async def _insert(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        rows = [
            usage_params(UsageRecord(KEY, "team", "helper", "gpt-4o", f"U{n % 50}", 10, 2, 0), NOW)
            for n in range(count)
        ]
        await conn.executemany(postgres_sql(q.INSERT_USAGE_SQL), rows)
    finally:
        await conn.close()


async def _timed(read: Callable[[], Awaitable[list[UsageRow]]]) -> tuple[float, int]:
    started = time.perf_counter()
    rows = await read()
    return (time.perf_counter() - started) * 1000, sum(row.prompt_tokens for row in rows)


async def main(url: str, period_rows: int, added: int, rounds: int) -> None:
    async with await Store.connect(url, replica="bench", pool_min=1) as store:
        await _insert(url, period_rows)
        readers: dict[str, SpendReader] = {
            "watermark": WatermarkSpend(store.ledger),
            "settling": store.ledger.spend_reader(),
        }
        for name, reader in readers.items():
            ms, tokens = await _timed(functools.partial(reader.period, SINCE))
            print(f"{name}: first read of {period_rows} rows {ms:.1f} ms ({tokens} tokens)")
        times: dict[str, list[float]] = {name: [] for name in readers}
        counted = dict.fromkeys(readers, 0)
        for _ in range(rounds):
            await _insert(url, added)
            for name, reader in readers.items():
                ms, tokens = await _timed(functools.partial(reader.added, SINCE))
                times[name].append(ms)
                counted[name] += tokens
        await _first_read_during_a_write(url, store, period_rows + rounds * added)
        for name, spent in times.items():
            p99 = statistics.quantiles(spent, n=100)[98]
            print(
                f"{name}: catch-up of {added} rows p50 {statistics.median(spent):.2f} ms,"
                f" p99 {p99:.2f} ms over {rounds} rounds; counted {counted[name]} tokens"
                f" (expected {rounds * added * 10})"
            )


async def _first_read_during_a_write(url: str, store: Store, rows: int) -> None:
    """A replica's first read while another's usage row is uncommitted: nothing is settled
    yet, so the settling reader reads the period row by row (once)."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            record = UsageRecord(KEY, "team", "helper", "gpt-4o", "U1", 10, 2, 0)
            await conn.execute(postgres_sql(q.INSERT_USAGE_SQL), *usage_params(record, NOW))
            ms, _ = await _timed(functools.partial(store.ledger.spend_reader().period, SINCE))
            print(f"settling: first read of {rows} rows during a write {ms:.1f} ms (row by row)")
    finally:
        await conn.close()


async def _run(arguments: argparse.Namespace, server: str) -> None:
    url = await create_database(server)
    try:
        await main(url, arguments.period_rows, arguments.added, arguments.rounds)
    finally:
        await drop_database(server, url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period-rows", type=int, default=20000)
    parser.add_argument("--added", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    arguments = parser.parse_args()
    given = os.environ.get(SERVER_URL_VARIABLE)
    with contextlib.nullcontext(given) if given else embedded_server() as server:
        asyncio.run(_run(arguments, server))
