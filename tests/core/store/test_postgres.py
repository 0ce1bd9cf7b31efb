"""What only the PostgreSQL store does: its own migrations, commit settings, and statements
rewritten from the SQLite dialect."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from core.errors import StoreError
from core.store import Store
from core.store.postgres.dialect import postgres_sql
from core.store.postgres.schema import MIGRATIONS


async def _scalar(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.connect(postgres_url, pool_min=1) for _ in range(3)))
    for store in stores:
        await store.close()
    assert await _scalar(postgres_url, "SELECT count(*) FROM parley_schema") == 1
    assert await _scalar(postgres_url, "SELECT version FROM parley_schema") == len(MIGRATIONS)


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    await (await Store.connect(postgres_url, pool_min=1)).close()
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("UPDATE parley_schema SET version = version + 1")
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="newer than this Parley"):
        await Store.connect(postgres_url, pool_min=1)


@pytest.mark.parametrize("synchronous", [False, True])
async def test_commits_wait_for_the_disk_only_when_asked(
    postgres_url: str, synchronous: bool
) -> None:
    async with (
        await Store.connect(postgres_url, pool_min=1, synchronous_commit=synchronous) as store,
        store._db.single_statements("reading a setting") as conn,
    ):
        ((setting,),) = await conn.fetch("SHOW synchronous_commit")
    assert setting == ("on" if synchronous else "off")


async def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    url = "postgresql://parley:hunter2@127.0.0.1:1/parley"
    with pytest.raises(StoreError) as caught:
        await Store.connect(url)
    assert "hunter2" not in str(caught.value)
    assert "postgresql://parley@127.0.0.1:1/parley" in str(caught.value)


def test_statements_are_numbered_and_sqlite_phrases_rewritten() -> None:
    assert postgres_sql("SELECT a FROM t WHERE b = ? AND c = ?") == (
        "SELECT a FROM t WHERE b = $1 AND c = $2"
    )
    assert postgres_sql("DELETE FROM t WHERE id IN (SELECT value FROM json_each(?))") == (
        "DELETE FROM t WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)"
    )


async def test_a_password_given_as_a_query_parameter_is_not_in_the_error() -> None:
    url = "postgresql://parley@127.0.0.1:1/parley?password=hunter2"
    with pytest.raises(StoreError) as caught:
        await Store.connect(url)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:1/parley" in str(caught.value)
