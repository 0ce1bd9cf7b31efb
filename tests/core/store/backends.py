"""The two databases a store test runs on, behind one face: open a store, read raw rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from core.store import Store
from core.store.postgres.dialect import postgres_sql
from core.store.records import utc_now


class SqliteDb:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def open(self, *, clock: Callable[[], datetime] = utc_now, replica: str = "") -> Store:
        return await Store.open(self.path, clock=clock, replica=replica)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Reads with plain sqlite3, bypassing the store under test."""
        with closing(sqlite3.connect(self.path)) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]


class PostgresDb:
    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self, *, clock: Callable[[], datetime] = utc_now, replica: str = "") -> Store:
        return await Store.connect(self.url, clock=clock, replica=replica, pool_min=1)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Reads on a connection of its own, bypassing the store under test."""
        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await conn.fetch(postgres_sql(sql), *params)]
        finally:
            await conn.close()


StoreDb = SqliteDb | PostgresDb
