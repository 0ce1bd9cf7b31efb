"""What the store needs of a database: connections lent for single statements or one
transaction, and word of what other processes changed. SQLite (one process, a file) and
PostgreSQL (several replicas) each implement it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from core.coordination import Coordination
from core.store.sql import Conn
from core.types import ConversationKey


class Backend(Protocol):
    clock: Callable[[], datetime]

    @property
    def caching(self) -> bool:
        """Whether the store may keep hot threads and conversation ids in memory: only
        where every write but `parley forget`'s passes through this process."""
        ...

    @property
    def coordination(self) -> Coordination: ...

    @property
    def sweeps_every_replica(self) -> bool:
        """Whether the start-up sweep marks every bot's unfinished replies (one process on
        the database) rather than only this replica's own."""
        ...

    @property
    def concurrent_writers(self) -> bool:
        """Whether transactions of several processes write at once, so that rows may commit
        out of id order (PostgreSQL); SQLite commits one writer's transaction at a time."""
        ...

    def single_statements(self, action: str) -> AbstractAsyncContextManager[Conn]:
        """A connection for reads and for writes that are one statement each (autocommit)."""
        ...

    def writing(self, action: str, *, keep: bool = True) -> AbstractAsyncContextManager[Conn]:
        """One transaction, committed before the caller continues (rolled back instead when
        `keep` is false: a dry run that counts exactly and deletes nothing)."""
        ...

    def turn(self, key: ConversationKey, reply_id: int | None) -> AbstractAsyncContextManager[None]:
        """Held while a turn (or a command) runs in `key`: no other replica answers there
        meanwhile, and a reply waits for earlier ones other live replicas took. One process
        on SQLite orders its turns itself (core/turn/order.py)."""
        ...

    async def changed_elsewhere(self, conn: Conn) -> bool:
        """Whether another process committed what this one's caches or persona choices
        may not know, since the last call."""
        ...

    def on_change(self, listener: Callable[[], None]) -> None:
        """`listener()` runs as soon as another replica announces a change, where the
        database can tell at once (PostgreSQL); SQLite's readers look at each turn instead."""
        ...

    async def announce_change(self, conn: Conn) -> None:
        """Tells the other replicas that rows they may hold in memory changed (a persona
        choice, an erasure); inside the caller's transaction where it has one."""
        ...

    async def probe(self, patience: float) -> str | None:
        """None if a turn's worth of writing succeeds now, else why not."""
        ...

    async def integrity_ok(self) -> bool: ...

    async def close(self) -> None: ...
