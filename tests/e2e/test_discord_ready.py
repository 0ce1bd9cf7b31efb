"""A Discord bot is ready once the servers READY listed have arrived, not a silence later."""

from __future__ import annotations

from pathlib import Path

import pytest

import bots.discord.bot as discord_bot
from tests.e2e.discord_env import discord_env, running, write_config
from tests.fakes.discord_payloads import Payload
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI, echo_last_user

__all__ = ["discord_env"]

# Longer than any test may run: a bot that waited for it would never become ready here.
FOREVER = 3600.0


async def test_ready_once_every_listed_server_arrived_without_waiting_for_silence(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord_bot, "GUILD_READY_TIMEOUT", FOREVER)
    fake_discord.world.add_guild("100000000000000777", "second", fake_discord.user_id)
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    # `running` returns once the client is ready (discord.py's READY fired).
    async with running(config, fake_discord, fake_openai) as world:
        client = world.bot.client
        assert client is not None
        assert {str(guild.id) for guild in client.guilds} == set(fake_discord.world.guilds)
        assert world.bot.connected


async def test_a_listed_server_that_has_not_arrived_is_still_waited_for(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """READY names a server whose GUILD_CREATE never comes (an outage): not ready yet, but
    the bot already answers in the servers that did arrive."""
    monkeypatch.setattr(discord_bot, "GUILD_READY_TIMEOUT", FOREVER)
    fake_openai.default = echo_last_user
    missing = "100000000000000778"
    fake_discord.world.add_guild(missing, "down", fake_discord.user_id)
    build_ready = fake_discord.gateway._build_ready

    def without_missing(session_id: str, intents: int) -> tuple[Payload, list[Payload]]:
        ready, creates = build_ready(session_id, intents)
        return ready, [create for create in creates if create["id"] != missing]

    fake_discord.gateway._build_ready = without_missing
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    monkeypatch.setattr("tests.e2e.discord_env.wait_until", _first_check_only)
    async with running(config, fake_discord, fake_openai) as world:
        thread = await world.say("hi", mention=True)
        await wait_until(
            lambda: any(m.content == "echo: [Alice] hi" for m in world.discord.posted(thread))
        )
        client = world.bot.client
        assert client is not None and not client.is_ready()
        assert not world.bot.connected


async def _first_check_only(*args: object, **kwargs: object) -> None:
    """`running` waits for READY; this test is about a bot that must not be ready."""
