"""Several Parley replicas inside one test process: runtimes of their own on one PostgreSQL
(as `parley run` opens them, each holding its replica name), or engines over one runtime's
store with their own views of one shared coordination (tests/fakes/coordination.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from bots.discord.bot import DiscordBot
from core.engine import Engine
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.coordination import ReplicaCoordination
from tests.fakes.discord_server import wait_until

KEY = ConversationKey("slack", "T1", "C1", "1700000000.000100")
ANN = Author("U1", "Ann")


def message(text: str, message_id: str, delivery: str = "") -> IncomingMessage:
    """Ann's message in KEY's thread, as the Slack bot `team` would hand it to the engine."""
    return IncomingMessage(
        "team", KEY, ANN, text, message_id, delivery=delivery or f"event-{message_id}"
    )


def replica_config(directory: Path, base_url: str, database_url: str) -> Path:
    """The end-to-end config, its storage on PostgreSQL."""
    path = write_config(directory, base_url)
    text = path.read_text()
    start = text.index("storage:")
    path.write_text(text[:start] + f"storage:\n  url: {database_url}\n")
    return path


@contextlib.asynccontextmanager
async def replicas(
    config: Path, names: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[Runtime]]:
    # What the config names; the runtimes never connect to Slack.
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for name in names:
            monkeypatch.setenv("PARLEY_REPLICA", name)
            runtime = await stack.enter_async_context(open_runtime(config))
            assert await runtime.store.coordination.hold(f"replica:{name}")
            opened.append(runtime)
        yield opened


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
