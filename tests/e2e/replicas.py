"""Several Parley replicas in one test process: engines over one runtime's store and config,
each with its own view of one shared coordination (tests/fakes/coordination.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bots.app import Runtime
from bots.discord.bot import DiscordBot
from core.engine import Engine
from tests.fakes.coordination import ReplicaCoordination
from tests.fakes.discord_server import wait_until


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
