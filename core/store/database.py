"""The one SQLite connection, lent to one task at a time, and its transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import aiosqlite

from core.errors import StoreError
from core.store import queries as q
from core.store.connection import is_corruption, translated
from core.store.records import to_timestamp
from core.store.statements import rollback


class Database:
    """Every read and write of the store goes through here; `clock` lets tests age rows."""

    def __init__(self, conn: aiosqlite.Connection, clock: Callable[[], datetime]) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self.clock = clock
        # Serialises transactions: aiosqlite shares one connection between tasks, and a
        # second BEGIN (or a read inside another task's open transaction) must wait.
        self._lock = asyncio.Lock()

    def now(self) -> str:
        """The clock's time as stored in the file."""
        return to_timestamp(self.clock())

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @asynccontextmanager
    async def single_statements(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads and for writes that are one statement each (autocommit)."""
        async with self._lock:
            conn = self._connection()
            with translated(action):
                yield conn

    @asynccontextmanager
    async def writing(
        self, action: str, *, keep: bool = True
    ) -> AsyncIterator[aiosqlite.Connection]:
        """One IMMEDIATE transaction, committed before the caller continues (rolled back
        instead when `keep` is false: a dry run that counts exactly and deletes nothing)."""
        async with self._lock:
            conn = self._connection()
            with translated(action):
                # BEGIN sits inside the try: a task cancelled while awaiting it must not
                # leave the shared connection inside a transaction.
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    yield conn
                    await conn.execute("COMMIT" if keep else "ROLLBACK")
                except BaseException:
                    await rollback(conn)
                    raise

    async def integrity_ok(self) -> bool:
        """Whether SQLite's own integrity check passes; a corrupt file gives False."""
        async with self._lock:
            conn = self._connection()
            try:
                rows = await conn.execute_fetchall(q.INTEGRITY_CHECK_SQL)
            except sqlite3.Error as exc:
                if is_corruption(exc):
                    return False
                raise StoreError(f"checking the database failed: {exc}") from exc
        return [tuple(row) for row in rows] == [("ok",)]

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with translated("closing the database"):
                    await conn.close()
