"""Replicas agreeing through PostgreSQL: session advisory locks on one connection of this
replica's own, so whatever a replica holds is released the moment it dies, and
LISTEN/NOTIFY for word of what another replica changed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final

import asyncpg

log = logging.getLogger(__name__)

# What one replica says to the others about stored rows. Every notice's payload starts with
# the sender's token, so a replica never hears itself.
STORE_CHANNEL: Final = "parley_store"
_PREFIX: Final = "parley_"
_NOTIFY_SQL: Final = "SELECT pg_notify($1, $2)"
# A conversation's turn ended on some replica: its name, for the replicas waiting on it.
TURNS_CHANNEL: Final = "parley_turns"
_RELEASE_SQL: Final = "SELECT pg_advisory_unlock($1), pg_notify($2, $3)"
# A replica that died releases its locks without a word: waiters look again this often.
RECHECK_SECONDS: Final = 1.0
MAX_MESSAGE: Final = 7000  # PostgreSQL takes payloads under 8,000 bytes
# What other replicas said they use for a topic: the second key of their shared two-key
# advisory locks on the topic's key (pg_locks shows every session's, this database's here).
_OTHER_VALUE_SQL: Final = (
    "SELECT l.objid::bigint FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database"
    " WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted"
    " AND d.datname = current_database() AND l.classid::bigint = $1"
    " AND l.objid::bigint <> $2 LIMIT 1"
)


def lock_key(name: str) -> int:
    """A name as one of PostgreSQL's 64-bit advisory lock keys."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"parley-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


def topic_key(topic: str) -> int:
    """A topic as the first of a two-key advisory lock: 0 to 2**31 - 1, so that pg_locks'
    unsigned classid reads back the same number."""
    digest = hashlib.blake2b(topic.encode(), digest_size=4, person=b"parley-topic").digest()
    return int.from_bytes(digest, "big") >> 1


class PostgresCoordination:
    """The connection is this replica's alone: a pooled one would carry its locks to
    whichever task borrows it next. asyncpg runs one query at a time on a connection, so
    queries here take turns; each is a single short statement."""

    def __init__(self, conn: asyncpg.Connection, replica: str, token: str) -> None:
        self._conn = conn
        self._replica = replica
        self.token = token
        self._turn = asyncio.Lock()
        self._held: set[str] = set()
        self._store_listeners: list[Callable[[], None]] = []
        self._subscribers: dict[str, list[Callable[[str], None]]] = {}
        self._released: dict[str, asyncio.Event] = {}  # turn locks other replicas wait on
        self.lost = asyncio.Event()
        conn.add_termination_listener(self._terminated)

    @classmethod
    async def start(cls, url: str, replica: str, token: str) -> PostgresCoordination:
        conn = await asyncpg.connect(url)
        coordination = cls(conn, replica, token)
        await conn.add_listener(STORE_CHANNEL, coordination._notified)
        await conn.add_listener(TURNS_CHANNEL, coordination._notified)
        return coordination

    @property
    def replica(self) -> str:
        return self._replica

    def on_store_change(self, listener: Callable[[], None]) -> None:
        """`listener()` hears whenever another replica announces a change of stored rows."""
        self._store_listeners.append(listener)

    def _notified(self, _conn: Any, _pid: int, channel: str, payload: object) -> None:
        sender, _, message = str(payload).partition(" ")
        if sender == self.token:
            return  # this replica's own word
        if channel == STORE_CHANNEL:
            for store_listener in self._store_listeners:
                store_listener()
            return
        if channel == TURNS_CHANNEL:
            released = self._released.pop(message, None)
            if released is not None:
                released.set()
            return
        for listener in self._subscribers.get(channel, []):
            try:
                listener(message)
            except Exception as error:  # any role on the database may NOTIFY anything
                # One line, and the next listener still hears it.
                log.warning("a notice on %s was not understood: %r", channel, error)

    def notice(self, message: str = "") -> str:
        """A payload other replicas take as this replica's."""
        return f"{self.token} {message}"

    async def publish(self, channel: str, message: str) -> None:
        if len(message.encode()) > MAX_MESSAGE:
            raise ValueError(f"a message to other replicas is at most {MAX_MESSAGE} bytes")
        async with self._turn:
            await self._conn.execute(
                "SELECT pg_notify($1, $2)", _PREFIX + channel, self.notice(message)
            )

    async def subscribe(self, channel: str, listener: Callable[[str], None]) -> None:
        name = _PREFIX + channel
        first = name not in self._subscribers
        self._subscribers.setdefault(name, []).append(listener)
        if first:
            async with self._turn:
                await self._conn.add_listener(name, self._notified)

    def _terminated(self, _conn: Any) -> None:
        if not self.lost.is_set():
            # Every lock it held is gone with it: another replica may now take them.
            log.error(
                "lost the coordination connection to PostgreSQL; this replica's roles are released"
            )
            self.lost.set()

    async def _try_lock(self, name: str) -> bool:
        async with self._turn:
            return bool(
                await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name))
            )

    async def _unlock(self, name: str) -> None:
        async with self._turn:
            await self._conn.fetchval("SELECT pg_advisory_unlock($1)", lock_key(name))

    @asynccontextmanager
    async def turn(self, name: str) -> AsyncIterator[None]:
        """Holds the lock `name` while the caller runs, waiting while another replica holds
        it; the release wakes the replicas waiting for it at once."""
        await self.take_turn(name)
        try:
            yield
        finally:
            await self.end_turn(name)

    async def take_turn(self, name: str) -> None:
        waited = False
        while True:
            released = self._released.setdefault(name, asyncio.Event())
            if await self._try_lock(name):
                self._released.pop(name, None)
                return
            if not waited:
                log.debug("%s is taken by another replica; waiting", name)
                waited = True
            await self.wait_for_turn_end(name, released)

    async def wait_for_turn_end(self, name: str, released: asyncio.Event | None = None) -> None:
        """Until a turn on `name` ends somewhere, or RECHECK_SECONDS pass."""
        released = released or self._released.setdefault(name, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECHECK_SECONDS):
                await released.wait()

    async def end_turn(self, name: str) -> None:
        """Releases `name` and wakes the replicas waiting for it."""
        if self._conn.is_closed():
            return  # the lock went with the connection
        async with self._turn:
            await self._conn.fetchrow(
                _RELEASE_SQL, lock_key(name), TURNS_CHANNEL, self.notice(name)
            )

    async def hold(self, name: str) -> bool:
        if name in self._held:
            return True
        if not await self._try_lock(name):
            return False
        self._held.add(name)
        return True

    async def agree(self, topic: str, value: int) -> int | None:
        if not 0 <= value < 2**31:
            raise ValueError(f"{topic}: {value} is not a value replicas can agree on")
        key = topic_key(topic)
        async with self._turn:
            # Shared: every replica saying the same value holds it at once; nobody ever
            # takes these exclusively, so this never waits.
            await self._conn.execute("SELECT pg_advisory_lock_shared($1::int, $2::int)", key, value)
            other = await self._conn.fetchval(_OTHER_VALUE_SQL, key, value)
            if other is None:
                return None
            # Two replicas starting together with different values both step back.
            await self._conn.execute(
                "SELECT pg_advisory_unlock_shared($1::int, $2::int)", key, value
            )
        return int(other)

    async def held_elsewhere(self, name: str) -> bool:
        """Whether another live session holds `name` (a replica's own lock: it is alive)."""
        if name in self._held:
            return False
        if not await self._try_lock(name):
            return True
        await self._unlock(name)
        return False

    @asynccontextmanager
    async def _once(self, job: str) -> AsyncIterator[bool]:
        name = f"job:{job}"
        if name in self._held or not await self._try_lock(name):
            yield False
            return
        self._held.add(name)
        try:
            yield True
        finally:
            self._held.discard(name)
            if not self._conn.is_closed():
                await self._unlock(name)

    def once(self, job: str) -> AbstractAsyncContextManager[bool]:
        return self._once(job)

    async def close(self) -> None:
        self.lost.set()  # a deliberate close is no loss worth a log line
        await self._conn.close()
