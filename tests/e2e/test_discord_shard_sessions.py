"""Each shard's gateway session on its own: a dropped shard resumes and a forgotten one
identifies again, the others untouched; notes, command sync by one replica, and the
gateway's sharding close codes reaching the admin as one clear error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bots.app import open_runtime
from core.errors import ParleyError
from core.types import ConversationKey
from tests.e2e.replicas import replica_engine, serving
from tests.e2e.test_discord_shards import (
    COUNT,
    answered,
    bot_of,
    configure,
    env,
    fake,
    mention,
    servers,
)
from tests.fakes.coordination import SharedRoles
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["env", "fake", "servers"]


async def test_a_dropped_shard_resumes_and_gets_what_it_missed(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "")
    async with open_runtime(config) as runtime, serving(bot_of(runtime)) as bot:
        await fake.drop_connection(shard=2)
        # Sent while shard 2 has no connection: kept in its session, replayed on RESUME.
        thread = await mention(fake, servers[2], "while you were away")
        await answered(fake, thread, "while you were away")
        assert fake.resume_count == 1 and fake.identify_count == COUNT
        thread = await mention(fake, servers[0], "shard 0 never left")
        await answered(fake, thread, "shard 0 never left")
        await wait_until(lambda: bot.connected, message="every shard open again")


async def test_a_shard_whose_session_is_forgotten_identifies_again(
    tmp_path: Path,
    fake: FakeDiscord,
    fake_openai: FakeOpenAI,
    servers: dict[int, str],
    env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Discord's 5 s between a shard's IDENTIFYs is kept; here it need not be waited out.
    monkeypatch.setattr("bots.discord.shards.IDENTIFY_WINDOW", 0.01)
    config = configure(tmp_path, fake, fake_openai, "")
    async with open_runtime(config) as runtime, serving(bot_of(runtime)):
        await fake.invalidate_session(resumable=False, shard=1)
        await fake.wait_ready(shard=1)
        assert fake.gateway.identified[-1] == [1, COUNT]
        assert fake.identify_count == COUNT + 1
        thread = await mention(fake, servers[1], "back again")
        await answered(fake, thread, "back again")


async def test_a_note_reaches_a_server_on_a_shard(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "")
    async with open_runtime(config) as runtime, serving(bot_of(runtime)) as bot:
        thread = await mention(fake, servers[2], "note me")
        await answered(fake, thread, "note me")
        guild = fake.world.guild_of(servers[2])
        assert guild is not None
        await bot.notify(ConversationKey("discord", guild, servers[2], thread), "Back soon.")
        assert fake.posted(thread)[-1].content == "Back soon."


async def test_command_sync_is_skipped_while_another_replica_syncs(
    tmp_path: Path,
    fake: FakeDiscord,
    fake_openai: FakeOpenAI,
    servers: dict[int, str],
    env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bots.discord.command_sync")
    config = configure(tmp_path, fake, fake_openai, "")
    roles = SharedRoles()
    async with open_runtime(config) as runtime:
        other = roles.replica("other")
        async with other.once("discord:disco:command-sync") as syncing:
            assert syncing
            bot = bot_of(runtime, replica_engine(runtime, roles.replica("me")))
            async with serving(bot):
                # Serving all the same: a slash command reaches it (the other syncs them).
                thread = await mention(fake, servers[0], "still here")
                await answered(fake, thread, "still here")
    assert fake.calls_to("PUT", f"/applications/{fake.application_id}/") == []
    said = [record.getMessage() for record in caplog.records]
    assert "discord bot disco: another replica is syncing its slash commands; skipped" in said


async def test_a_bot_identifying_without_shards_where_discord_requires_them(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeDiscord(sharding_required=True) as unsharded:
        monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-discord")
        monkeypatch.setenv("DISCORD_TOKEN", unsharded.token)
        config = configure(tmp_path, unsharded, fake_openai, "")
        config.write_text(config.read_text().replace(f"count: {COUNT}", "count: 1"))
        async with open_runtime(config) as runtime:
            with pytest.raises(ParleyError, match=r"4011 .*set shards\.count"):
                await bot_of(runtime).run()
        assert unsharded.gateway.identified == [None]
