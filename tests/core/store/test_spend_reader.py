"""What budgets read of the usage table: a period, then each row added since, once; on
PostgreSQL also a row whose transaction commits after a higher id was read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg

from core.store import UsageRecord
from core.store import queries as q
from core.store.postgres.dialect import postgres_sql
from core.store.records import UsageRow, usage_params
from tests.core.store.backends import PostgresDb, StoreDb
from tests.core.store.conftest import KEY

NOW = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


def usage(user: str, prompt: int) -> UsageRecord:
    return UsageRecord(KEY, "team", "helper", "gpt-4o", user, prompt, 0, 0)


def spent(rows: list[UsageRow]) -> list[tuple[str, int]]:
    return sorted((row.user_id, row.prompt_tokens) for row in rows)


@asynccontextmanager
async def uncommitted(url: str, record: UsageRecord) -> AsyncIterator[asyncpg.Connection]:
    """A usage row inserted in a transaction left open until the block ends, then committed:
    its id is taken now, its row seen only after."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(postgres_sql(q.INSERT_USAGE_SQL), *usage_params(record, NOW))
            yield conn
    finally:
        await conn.close()


async def test_a_period_then_only_what_was_added(db: StoreDb) -> None:
    async with await db.open(clock=lambda: NOW) as store:
        reader = store.ledger.spend_reader()
        await store.ledger.record_usage(usage("U1", 10))
        assert spent(await reader.period(NOW)) == [("U1", 10)]
        assert await reader.added(NOW) == []
        await store.ledger.record_usage(usage("U2", 7))
        assert spent(await reader.added(NOW)) == [("U2", 7)]
        assert await reader.added(NOW) == []
        # A count from nothing again (a new period, a reload): everything, once.
        assert spent(await reader.period(NOW)) == [("U1", 10), ("U2", 7)]
        assert await reader.added(NOW) == []


async def test_a_row_committed_after_a_higher_id_was_read_is_still_counted_once(
    postgres_url: str,
) -> None:
    db = PostgresDb(postgres_url)
    async with (
        await db.open(clock=lambda: NOW, replica="a") as a,
        await db.open(clock=lambda: NOW, replica="b") as b,
    ):
        reader = b.ledger.spend_reader()
        assert await reader.period(NOW) == []
        async with uncommitted(postgres_url, usage("U1", 50)):
            await a.ledger.record_usage(usage("U2", 5))  # a higher id, committed first
            assert spent(await reader.added(NOW)) == [("U2", 5)]
            assert await reader.added(NOW) == []
        assert spent(await reader.added(NOW)) == [("U1", 50)]  # late, but counted
        await a.ledger.record_usage(usage("U3", 1))
        assert spent(await reader.added(NOW)) == [("U3", 1)]
        assert await reader.added(NOW) == []
        # A reload while a transaction is open counts what is committed, then the rest.
        async with uncommitted(postgres_url, usage("U4", 9)):
            await a.ledger.record_usage(usage("U5", 2))
            assert spent(await reader.period(NOW)) == [("U1", 50), ("U2", 5), ("U3", 1), ("U5", 2)]
        assert spent(await reader.added(NOW)) == [("U4", 9)]
        assert await reader.added(NOW) == []
