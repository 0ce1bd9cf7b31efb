"""Where the slash commands are registered: globally with no guild listed, per guild when
guilds are listed, and taken away from where they no longer belong."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bots.config_models import load_config
from cli.check import print_check
from tests.e2e.discord_env import discord_env, running, write_config
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Script

__all__ = ["discord_env"]

NAMES = ["ask", "chat", "persona", "reset"]


def guild_listed(fake: FakeDiscord) -> str:
    return f'    workspaces:\n      "{fake.guild_id}": {{persona: helper}}\n'


def configure(
    path: Path, fake: FakeDiscord, openai: FakeOpenAI, *, guild: bool, extra: str = ""
) -> Path:
    config = write_config(path, fake, openai, extra)
    if not guild:
        text = config.read_text()
        assert guild_listed(fake) in text
        config.write_text(text.replace(guild_listed(fake), ""))
    return config


def names(fake: FakeDiscord, guild: str | None = None) -> list[str]:
    return sorted(command["name"] for command in fake.commands(guild))


async def start_and_stop(config: Path, fake: FakeDiscord, openai: FakeOpenAI) -> None:
    """One start of the bot: commands are synced in setup_hook, before it is ready."""
    async with running(config, fake, openai):
        pass


async def test_with_no_guild_listed_commands_are_registered_globally(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bots.discord")
    config = configure(tmp_path / "bots.yaml", fake_discord, fake_openai, guild=False)
    await start_and_stop(config, fake_discord, fake_openai)
    assert names(fake_discord) == NAMES
    assert names(fake_discord, fake_discord.guild_id) == []
    said = [record.getMessage() for record in caplog.records]
    assert "discord bot disco: slash commands registered globally" in "\n".join(said)


async def test_with_a_guild_listed_commands_are_registered_there_only(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    config = configure(tmp_path / "bots.yaml", fake_discord, fake_openai, guild=True)
    await start_and_stop(config, fake_discord, fake_openai)
    assert names(fake_discord, fake_discord.guild_id) == NAMES
    assert names(fake_discord) == []


async def test_moving_between_guild_and_global_leaves_one_copy_each_time(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    fake, path, guild = fake_discord, tmp_path / "bots.yaml", fake_discord.guild_id
    listed = configure(path, fake, fake_openai, guild=True)
    await start_and_stop(listed, fake, fake_openai)
    assert (names(fake), names(fake, guild)) == ([], NAMES)
    # The guild list is removed: global commands, and the guild's copies go (else twice).
    await start_and_stop(configure(path, fake, fake_openai, guild=False), fake, fake_openai)
    assert (names(fake), names(fake, guild)) == (NAMES, [])
    # Listed again, then removed again: each place that was emptied is synced anew.
    await start_and_stop(configure(path, fake, fake_openai, guild=True), fake, fake_openai)
    assert (names(fake), names(fake, guild)) == ([], NAMES)
    await start_and_stop(configure(path, fake, fake_openai, guild=False), fake, fake_openai)
    assert (names(fake), names(fake, guild)) == (NAMES, [])
    # A restart that changes nothing writes nothing.
    puts = len(fake.calls_to("PUT", "/applications/"))
    await start_and_stop(configure(path, fake, fake_openai, guild=False), fake, fake_openai)
    assert len(fake.calls_to("PUT", "/applications/")) == puts


async def test_guilds_mode_with_no_guild_registers_nothing_and_says_so(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bots.discord")
    extra = "    command_sync: guilds\n"
    config = configure(tmp_path / "bots.yaml", fake_discord, fake_openai, guild=False, extra=extra)
    await start_and_stop(config, fake_discord, fake_openai)
    assert fake_discord.calls_to("PUT", "/applications/") == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("registered NOWHERE" in line for line in warned), warned


@pytest.mark.parametrize(
    ("guild", "extra", "said"),
    [
        (False, "", "→ slash commands registered globally"),
        (True, "", "→ slash commands registered in 1 guild(s), at once: "),
        (True, "    command_sync: global\n", "→ slash commands registered globally"),
        (False, "    command_sync: guilds\n", "→ slash commands registered NOWHERE"),
    ],
)
def test_check_says_where_the_commands_will_be_registered(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    guild: bool,
    extra: str,
    said: str,
) -> None:
    path = configure(tmp_path / "bots.yaml", fake_discord, fake_openai, guild=guild, extra=extra)
    out = io.StringIO()
    assert print_check(load_config(path, env={}), out) == 0
    assert said in out.getvalue()


async def test_a_listed_guild_that_refuses_commands_is_named_and_the_bot_serves(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bots.discord")
    elsewhere = "1999999999999999999"  # a server the bot was never invited to
    extra = f'    allowed_guilds: ["{fake_discord.guild_id}", "{elsewhere}"]\n'
    config = configure(tmp_path / "bots.yaml", fake_discord, fake_openai, guild=True, extra=extra)
    async with running(config, fake_discord, fake_openai) as world:
        world.openai.enqueue(Script(chunks=("Still here.",)))
        thread = await world.say("are you up?", mention=True)
        await world.bot_says(thread, "Still here.")
    assert names(fake_discord, fake_discord.guild_id) == NAMES
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert f"refused its slash commands in guild {elsewhere}" in warned
