"""The Discord end-to-end harness: Parley's real composition root against the fakes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import bots.discord.bot as discord_bot
from bots.app import Runtime, open_runtime
from bots.discord.bot import DiscordBot
from core.types import ConversationKey
from tests.e2e.turns import TurnWatch, watching_turns
from tests.fakes.discord_server import FakeDiscord, FakeDiscordMessage, wait_until
from tests.fakes.openai_server import FakeOpenAI

CONFIG = """\
providers:
  fake: {{base_url: "{openai_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 2, max_retries: 1}}
personas:
  helper:
    system_prompt: >-
      You are {{bot_name}} in {{workspace_name}}, {{channel_name}}, with {{user_name}}.
    model: gpt-4o-mini
    provider: fake
    max_tokens: 256
    context_tokens: 8000
  pirate: {{system_prompt: "Talk like a pirate.", model: gpt-4o, provider: fake}}
bots:
  - name: disco
    platform: discord
    persona: helper
    token: ${{DISCORD_TOKEN}}
    api_base_url: "{api_url}"
    gateway_url: "{gateway_url}"
    workspaces:
      "{guild}": {{persona: helper}}
    admins: ["{admin}"]
storage: {{path: data/parley.db}}
"""
ADMIN = "400000000000000001"


@dataclass
class DiscordWorld:
    discord: FakeDiscord
    openai: FakeOpenAI
    runtime: Runtime
    bot: DiscordBot
    turns: TurnWatch

    async def say(self, content: str, *, channel: str | None = None, mention: bool = False) -> str:
        fake = self.discord
        text = f"<@{fake.bot_user_id}> {content}" if mention else content
        mentions = [fake.bot_user_id] if mention else []
        event = fake.message_create(
            channel or fake.channel_id, fake.user_id, text, mentions=mentions
        )
        await fake.dispatch("MESSAGE_CREATE", event)
        return str(event["id"])

    async def bot_says(self, channel: str, text: str) -> None:
        def shown() -> bool:
            posted = self.discord.posted(channel)
            return bool(posted) and posted[-1].content == text

        await wait_until(shown)

    def key(self, thread: str) -> ConversationKey:
        """The conversation of a thread (or reply chain) started in #general by `thread`."""
        return ConversationKey("discord", self.discord.guild_id, self.discord.channel_id, thread)

    async def settled(self, channel: str, count: int = 1) -> list[FakeDiscordMessage]:
        """The bot's messages in `channel` once there are `count` and no turn task runs:
        each turn's task ends after its last post or edit was answered."""

        def over() -> bool:
            return len(self.discord.posted(channel)) >= count and not self.turns.running()

        await wait_until(over, timeout=30, message=f"{count} posts in {channel}, turns ended")
        return self.discord.posted(channel)

    async def caught_up(self) -> str:
        """The positive fact a negative check waits for: a blank mention in #general, sent
        now, got its hint (no model call), and no turn task runs any more. Returns its id
        (the hint replies to it).

        The gateway delivers in order and discord.py routes in order, so whatever the
        events before it were going to start has started by then, and has ended.
        """
        fake = self.discord
        event = fake.message_create(
            fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}>", mentions=[fake.bot_user_id]
        )
        await fake.dispatch("MESSAGE_CREATE", event)
        marker = str(event["id"])
        await self.turns.ended(1, self.key(marker))
        await wait_until(lambda: not self.turns.running(), timeout=30, message="no turn runs")
        return marker


def sent(world: DiscordWorld) -> list[dict[str, Any]]:
    messages = world.openai.requests[-1]["messages"]
    assert isinstance(messages, list)
    return messages


ADMINS_LINE = f'    admins: ["{ADMIN}"]\n'


def write_config(path: Path, fake: FakeDiscord, openai: FakeOpenAI, extra: str = "") -> Path:
    """The shared test CONFIG, with `extra` lines added to the bot after its admins."""
    text = CONFIG.format(
        openai_url=openai.base_url,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        guild=fake.guild_id,
        admin=ADMIN,
    )
    assert ADMINS_LINE in text
    path.write_text(text.replace(ADMINS_LINE, ADMINS_LINE + extra))
    return path


@contextlib.asynccontextmanager
async def running(
    config: Path, fake: FakeDiscord, openai: FakeOpenAI
) -> AsyncIterator[DiscordWorld]:
    """One run of the bot, as the `discord_world` fixture starts it; leaving stops it."""
    async with watching_turns() as turns, open_runtime(config) as runtime:
        bot = DiscordBot(runtime.config.current.bot("disco"), runtime.engine)
        task = asyncio.create_task(bot.run())
        try:
            await fake.wait_ready()
            await wait_until(lambda: bot.client is not None and bot.client.is_ready())
            yield DiscordWorld(fake, openai, runtime, bot, turns)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def discord_env(monkeypatch: pytest.MonkeyPatch, fake_discord: FakeDiscord) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-discord")
    monkeypatch.setenv("DISCORD_TOKEN", fake_discord.token)
    monkeypatch.setattr(discord_bot, "GUILD_READY_TIMEOUT", 0.05)


@pytest.fixture
async def discord_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    async with running(config, fake_discord, fake_openai) as world:
        yield world


@pytest.fixture
async def discord_long_replies(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    """A persona allowed long replies: Parley cuts a reply far past `max_tokens`."""
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    config.write_text(config.read_text().replace("max_tokens: 256", "max_tokens: 4000"))
    async with running(config, fake_discord, fake_openai) as world:
        yield world
