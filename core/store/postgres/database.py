"""A pool of PostgreSQL connections lent to the store, and its transactions."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from datetime import datetime

import asyncpg

from core.config.storage_url import shown
from core.errors import StoreError
from core.store.connection import PROBE_BYTES
from core.store.postgres.conn import PostgresConn
from core.store.postgres.coordination import STORE_CHANNEL, PostgresCoordination
from core.store.postgres.schema import migrate
from core.store.postgres.turns import ConversationTurns, arrival_lock_name
from core.store.sql import Conn, failures_as_store_errors
from core.types import ConversationKey

_NOTIFY_SQL = "SELECT pg_notify(?, ?)"
# A turn's worth of bytes in a table of the probe's own session, rolled back.
_PROBE_TABLE_SQL = "CREATE TEMP TABLE parley_health_probe (written TEXT) ON COMMIT DROP"
_PROBE_WRITE_SQL = "INSERT INTO parley_health_probe VALUES (repeat('x', ?))"


def translated(action: str) -> AbstractContextManager[None]:
    """Re-raise a failure of PostgreSQL or of the way to it as StoreError, keeping detail."""
    return failures_as_store_errors(action, (asyncpg.PostgresError, asyncpg.InterfaceError))


class PostgresDatabase:
    """Several replicas write the same rows, so nothing is cached but persona choices,
    which are reloaded whenever another replica says it changed something."""

    caching = False
    concurrent_writers = True
    sweeps_every_replica = False

    def __init__(
        self,
        pool: asyncpg.Pool,
        coordination: PostgresCoordination,
        clock: Callable[[], datetime],
        *,
        synchronous_commit: bool = False,
    ) -> None:
        self._pool = pool
        self._synchronous_commit = synchronous_commit
        self._coordination = coordination
        self.clock = clock
        self._turns = ConversationTurns(coordination)
        self._listeners: list[Callable[[], None]] = []
        coordination.on_store_change(self._noticed)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime],
        replica: str,
        pool_min: int = 2,
        pool_max: int = 10,
        synchronous_commit: bool = False,
    ) -> PostgresDatabase:
        where = shown(url)
        with translated(f"opening the database {where}"):
            first = await asyncpg.connect(url)
            try:
                await migrate(first)
            finally:
                await first.close()
            coordination = await PostgresCoordination.start(url, replica, secrets.token_hex(8))
            try:
                pool = await asyncpg.create_pool(
                    url,
                    min_size=pool_min,
                    max_size=pool_max,
                    reset=_keep_session,
                    server_settings={"synchronous_commit": "on" if synchronous_commit else "off"},
                )
            except BaseException:
                await coordination.close()
                raise
        return cls(pool, coordination, clock, synchronous_commit=synchronous_commit)

    @property
    def coordination(self) -> PostgresCoordination:
        return self._coordination

    def _noticed(self) -> None:
        for listener in self._listeners:
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    @asynccontextmanager
    async def single_statements(self, action: str) -> AsyncIterator[Conn]:
        with translated(action):
            async with self._pool.acquire() as conn:
                yield PostgresConn(conn)

    @asynccontextmanager
    async def writing(
        self, action: str, *, keep: bool = True, durable: bool = False
    ) -> AsyncIterator[Conn]:
        with translated(action):
            async with self._pool.acquire() as conn:
                transaction = conn.transaction()
                await transaction.start()
                try:
                    if durable and not self._synchronous_commit:
                        # An asynchronous commit is lost if PostgreSQL itself crashes
                        # (pg_ctl -m immediate, an OOM kill) within ~0.6 s: not a
                        # user's message. Waiting for this one also keeps every commit
                        # before it.
                        await conn.execute("SET LOCAL synchronous_commit TO on")
                    yield PostgresConn(conn)
                except BaseException:
                    await transaction.rollback()
                    raise
                if keep:
                    await transaction.commit()
                else:
                    await transaction.rollback()

    def turn(self, key: ConversationKey, reply_id: int | None) -> AbstractAsyncContextManager[None]:
        return self._turns.turn(self.single_statements, key, reply_id)

    def arriving(self, key: ConversationKey) -> AbstractAsyncContextManager[None]:
        return self._coordination.turn(arrival_lock_name(key))

    async def changed_elsewhere(self, conn: Conn) -> bool:
        """Never: nothing is cached here but persona choices, and those are reloaded the
        moment another replica's notice arrives (on_change)."""
        return False

    async def announce_change(self, conn: Conn) -> None:
        await conn.fetch(_NOTIFY_SQL, (STORE_CHANNEL, self._coordination.notice()))

    async def probe(self, patience: float) -> str | None:
        try:
            async with asyncio.timeout(patience), self.writing("probing", keep=False) as conn:
                await conn.run(_PROBE_TABLE_SQL)
                await conn.run(_PROBE_WRITE_SQL, (PROBE_BYTES,))
        except TimeoutError:
            return f"no answer within {patience:g} s"
        except StoreError as error:
            return str(error)
        return None

    async def integrity_ok(self) -> bool:
        """PostgreSQL keeps its own pages whole; what can fail is reaching it."""
        try:
            async with self.single_statements("checking the database") as conn:
                await conn.fetch("SELECT 1")
        except StoreError:
            return False
        return True

    async def close(self) -> None:
        with translated("closing the database"):
            try:
                await self._pool.close()
            finally:
                await self._coordination.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The store's connections never LISTEN, lock or SET anything (the coordination's own
    connection does), so a connection back in the pool needs no reset query: asyncpg's
    default would cost a round trip on every store call. Open transactions are still
    ended by the pool itself."""


async def unreachable(url: str, patience: float) -> str | None:
    """Why the database at `url` cannot be opened now (one line, no password), or None:
    for `parley check --probe`, which must change nothing, so no migration."""
    where = shown(url)
    try:
        with translated(f"opening the database {where}"):
            conn = await asyncpg.connect(url, timeout=patience)
            await conn.close()
    except TimeoutError:
        return f"opening the database {where}: no answer within {patience:g} s"
    except StoreError as error:
        return str(error)
    return None
