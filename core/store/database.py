"""The one SQLite connection, lent to one task at a time, and its transactions."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import aiosqlite

from core.coordination import Coordination, LocalCoordination
from core.errors import StoreError
from core.store import queries as q
from core.store.connection import is_corruption, probe_writable, translated
from core.store.sql import Conn, SqliteConn
from core.types import ConversationKey

# How stale the caches may be after another process's commit (see changed_elsewhere).
SYNC_INTERVAL = 0.1


class SqliteDatabase:
    """Every read and write of a SQLite store goes through here; `clock` lets tests age rows.

    One process serves a file (bots/run's runner lock), so the store may cache, and only
    `parley forget` from another process changes rows behind its back.
    """

    caching = True
    concurrent_writers = False
    sweeps_every_replica = True

    def __init__(
        self,
        conn: aiosqlite.Connection,
        clock: Callable[[], datetime],
        path: Path,
        replica: str = "",
    ) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self.path = path
        self._face = SqliteConn(conn)
        self.clock = clock
        self._coordination = LocalCoordination(replica)
        self._version: int | None = None  # PRAGMA data_version at the last look
        self._looked_at = -math.inf  # time.monotonic() of that look
        # Serialises transactions: aiosqlite shares one connection between tasks, and a
        # second BEGIN (or a read inside another task's open transaction) must wait.
        self._lock = asyncio.Lock()

    @property
    def coordination(self) -> Coordination:
        return self._coordination

    async def changed_elsewhere(self, conn: Conn) -> bool:
        """Whether another connection (`parley forget`, a second process) committed since
        the last look: its deletes would otherwise live on in memory.

        data_version changes only for other connections' commits, so this store's own
        writes, which keep the caches in step themselves, never count. One look per
        SYNC_INTERVAL is enough: a turn makes several store calls within a few ms, and a
        round trip each cost 0.3 ms a turn.
        """
        now = time.monotonic()
        if now - self._looked_at < SYNC_INTERVAL:
            return False
        self._looked_at = now
        ((version,),) = await conn.fetch(q.DATA_VERSION_SQL)
        changed = self._version is not None and int(version) != self._version
        self._version = int(version)
        return changed

    @asynccontextmanager
    async def turn(self, key: ConversationKey, reply_id: int | None) -> AsyncIterator[None]:
        """One process: the engine's own arrival order is the whole order."""
        yield

    def on_change(self, listener: Callable[[], None]) -> None:
        """Never called: changed_elsewhere looks at data_version instead."""

    async def announce_change(self, conn: Conn) -> None:
        """Nothing to say: another process notices through data_version."""

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @asynccontextmanager
    async def single_statements(self, action: str) -> AsyncIterator[Conn]:
        """The connection for reads and for writes that are one statement each (autocommit)."""
        async with self._lock:
            self._connection()  # raises once closed
            with translated(action):
                yield self._face

    @asynccontextmanager
    async def writing(self, action: str, *, keep: bool = True) -> AsyncIterator[Conn]:
        """One IMMEDIATE transaction, committed before the caller continues (rolled back
        instead when `keep` is false: a dry run that counts exactly and deletes nothing)."""
        async with self._lock:
            conn = self._connection()
            with translated(action):
                # BEGIN sits inside the try: a task cancelled while awaiting it must not
                # leave the shared connection inside a transaction.
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    yield self._face
                    await conn.execute("COMMIT" if keep else "ROLLBACK")
                except BaseException:
                    # A cancelled COMMIT may still have gone through; nothing to undo then.
                    with contextlib.suppress(sqlite3.Error):
                        await conn.execute("ROLLBACK")
                    raise

    async def probe(self, patience: float) -> str | None:
        return await asyncio.to_thread(probe_writable, self.path, patience)

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
