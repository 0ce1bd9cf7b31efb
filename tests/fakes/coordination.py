"""A fake of the Coordination port for several replicas in one test process: one shared
table of who holds which role and which jobs run, as PostgreSQL would keep it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class SharedRoles:
    """What the replicas agree on: who holds each role, which jobs run now."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}
        self.running: set[str] = set()
        self.values: dict[str, dict[str, int]] = {}  # topic -> replica -> value
        # channel -> (replica, listener) for every subscription
        self.listeners: dict[str, list[tuple[str, Callable[[str], None]]]] = {}

    def replica(self, name: str) -> ReplicaCoordination:
        return ReplicaCoordination(self, name)


class ReplicaCoordination:
    """One replica's `Coordination`: a role held by another replica is refused; a job
    another replica runs yields False at once; a message published reaches the others."""

    def __init__(self, shared: SharedRoles, name: str) -> None:
        self._shared = shared
        self._name = name
        self._lost = asyncio.Event()

    @property
    def replica(self) -> str:
        return self._name

    @property
    def lost(self) -> asyncio.Event:
        return self._lost

    async def hold(self, name: str) -> bool:
        return self._shared.holders.setdefault(name, self._name) == self._name

    async def agree(self, topic: str, value: int) -> int | None:
        said = self._shared.values.setdefault(topic, {})
        other = next((other for other in said.values() if other != value), None)
        if other is None:
            said[self._name] = value
        return other

    @asynccontextmanager
    async def _once(self, job: str) -> AsyncIterator[bool]:
        if job in self._shared.running:
            yield False
            return
        self._shared.running.add(job)
        try:
            yield True
        finally:
            self._shared.running.discard(job)

    def once(self, job: str) -> AbstractAsyncContextManager[bool]:
        return self._once(job)

    async def publish(self, channel: str, message: str) -> None:
        for replica, listener in self._shared.listeners.get(channel, []):
            if replica != self._name:
                listener(message)

    async def subscribe(self, channel: str, listener: Callable[[str], None]) -> None:
        self._shared.listeners.setdefault(channel, []).append((self._name, listener))
