"""What several replicas of Parley agree on through their shared store: which replica holds a
named role (a Discord shard) and which runs a job right now (retention, command sync).

One process on SQLite holds everything itself (`LocalCoordination`); on PostgreSQL the store's
session advisory locks decide between replicas, and a replica that dies releases what it held.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class Coordination(Protocol):
    @property
    def replica(self) -> str:
        """This replica's name (`PARLEY_REPLICA`, else the host name)."""
        ...

    @property
    def lost(self) -> asyncio.Event:
        """Set when this replica no longer holds what it claimed (its connection to the
        others died): another replica may have taken its roles, so it must stop serving."""
        ...

    async def hold(self, name: str) -> bool:
        """Claims `name` for the rest of this process's life: False when another live
        replica holds it. Claiming a name this process holds again returns True."""
        ...

    async def agree(self, topic: str, value: int) -> int | None:
        """Says, for the rest of this process's life, that this replica uses `value` (0 or
        more) for `topic`, and returns None, when every other live replica said the same;
        else returns a value another one said, and this replica says nothing."""
        ...

    def once(self, job: str) -> AbstractAsyncContextManager[bool]:
        """Runs `job` on one replica at a time: yields whether this replica got it (another
        replica running it now yields False at once, never waits)."""
        ...

    async def publish(self, channel: str, message: str) -> None:
        """Sends `message` (at most 7,000 bytes) to every other replica subscribed to
        `channel`, once the caller's work is done; never to this one. At most once: a
        replica that is down or reconnecting misses it."""
        ...

    async def subscribe(self, channel: str, listener: Callable[[str], None]) -> None:
        """`listener(message)` hears what other replicas publish on `channel` from now on."""
        ...


class LocalCoordination:
    """One process is every replica there is: it gets every role; a job still runs once at a
    time inside it."""

    def __init__(self, replica: str) -> None:
        self._replica = replica
        self._held: set[str] = set()
        self._running: set[str] = set()
        self._lost = asyncio.Event()  # nothing to lose: no other replica can take a role

    @property
    def replica(self) -> str:
        return self._replica

    @property
    def lost(self) -> asyncio.Event:
        return self._lost

    async def hold(self, name: str) -> bool:
        self._held.add(name)
        return True

    async def agree(self, topic: str, value: int) -> int | None:
        return None  # nobody else to disagree

    @asynccontextmanager
    async def _once(self, job: str) -> AsyncIterator[bool]:
        if job in self._running:
            yield False
            return
        self._running.add(job)
        try:
            yield True
        finally:
            self._running.discard(job)

    def once(self, job: str) -> AbstractAsyncContextManager[bool]:
        return self._once(job)

    async def publish(self, channel: str, message: str) -> None:
        """There is no other replica to tell."""

    async def subscribe(self, channel: str, listener: Callable[[str], None]) -> None:
        """Nothing will ever be published by another replica."""
