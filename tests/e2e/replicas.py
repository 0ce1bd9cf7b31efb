"""Several Parley replicas in one test process: engines over one runtime's store and config,
each with its own view of one shared coordination (as PostgreSQL would give them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from bots.app import Runtime
from bots.discord.bot import DiscordBot
from core.engine import Engine
from tests.fakes.discord_server import wait_until


class SharedRoles:
    """What the replicas agree on: who holds each role, which jobs run now."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}
        self.running: set[str] = set()

    def replica(self, name: str) -> ReplicaCoordination:
        return ReplicaCoordination(self, name)


class ReplicaCoordination:
    """One replica's `Coordination`: a role held by another replica is refused; a job
    another replica runs yields False at once."""

    def __init__(self, shared: SharedRoles, name: str) -> None:
        self._shared = shared
        self._name = name

    @property
    def replica(self) -> str:
        return self._name

    async def hold(self, name: str) -> bool:
        return self._shared.holders.setdefault(name, self._name) == self._name

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


def replica_engine(runtime: Runtime, coordination: ReplicaCoordination) -> Engine:
    """Another replica's engine: the same config and store, its own coordination view."""
    return Engine(
        config=runtime.config,
        store=runtime.store,
        models=runtime.models,
        tokenizers=runtime.tokenizers,
        observer=runtime.metrics,
        coordination=coordination,
    )


@asynccontextmanager
async def serving(bot: DiscordBot) -> AsyncIterator[DiscordBot]:
    """The bot runs until the block ends; entered once every shard it runs is connected.
    A bot that stops before (its error) raises here."""
    task = asyncio.create_task(bot.run())
    try:
        await wait_until(lambda: bot.connected or task.done(), message="bot connected")
        if task.done():
            task.result()
            raise AssertionError("the bot stopped without an error before connecting")
        yield bot
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
