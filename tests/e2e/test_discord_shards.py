"""A sharded Discord bot against the fake Discord with three shards: one gateway session per
shard, servers and DMs on the shards Discord puts them on, replicas splitting the shards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bots.discord.bot as discord_bot
from bots.app import Runtime, open_runtime
from bots.discord.bot import DiscordBot
from core.types import Conversations
from tests.e2e.discord_env import write_config
from tests.e2e.replicas import replica_engine, serving
from tests.e2e.turns import watching_turns
from tests.fakes.coordination import SharedRoles
from tests.fakes.discord_server import FakeDiscord, FakeInteraction, wait_until
from tests.fakes.openai_server import FakeOpenAI, echo_last_user

COUNT = 3


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """Three shards; Discord lets all three IDENTIFY at once (max_concurrency 3)."""
    async with FakeDiscord(shards=COUNT, max_concurrency=COUNT) as fake:
        yield fake


@pytest.fixture
def servers(fake: FakeDiscord) -> dict[int, str]:
    """Shard to the #general channel of a server on it (the fake's own server is on 1)."""
    return {shard: fake.add_guild_on_shard(shard)[1] for shard in range(COUNT)}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fake: FakeDiscord, fake_openai: FakeOpenAI) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-discord")
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    monkeypatch.setattr(discord_bot, "GUILD_READY_TIMEOUT", 0.05)
    fake_openai.default = echo_last_user


def configure(tmp_path: Path, fake: FakeDiscord, openai: FakeOpenAI, shards: str) -> Path:
    extra = f"    command_sync: global\n    shards:\n      count: {COUNT}\n{shards}"
    return write_config(tmp_path / "bots.yaml", fake, openai, extra)


def bot_of(runtime: Runtime, engine: Conversations | None = None) -> DiscordBot:
    return DiscordBot(runtime.config.current.bot("disco"), engine or runtime.engine)


async def mention(fake: FakeDiscord, channel: str, text: str) -> str:
    """A mention of the bot in `channel`; its id, which is the id of the thread answering it."""
    content = f"<@{fake.bot_user_id}> {text}"
    event = fake.message_create(channel, fake.user_id, content, mentions=[fake.bot_user_id])
    await fake.dispatch("MESSAGE_CREATE", event)
    return str(event["id"])


async def answered(fake: FakeDiscord, thread: str, text: str) -> None:
    await wait_until(
        lambda: any(text in message.content for message in fake.posted(thread)),
        message=f"an answer with {text!r} in {thread}",
    )


async def ask(fake: FakeDiscord, channel: str, prompt: str) -> FakeInteraction:
    event = fake.interaction_create("ask", options={"prompt": prompt}, channel_id=channel)
    await fake.dispatch("INTERACTION_CREATE", event)
    interaction = fake.interaction(str(event["id"]))
    await wait_until(lambda: prompt in (interaction.original_content or ""), message=prompt)
    return interaction


def guild_ids(bot: DiscordBot) -> set[int]:
    assert bot.client is not None
    return {guild.id for guild in bot.client.guilds}


def on_shards(fake: FakeDiscord, *shards: int) -> set[int]:
    return {int(g) for g in fake.world.guilds if (int(g) >> 22) % COUNT in shards}


async def test_three_shards_in_one_process_answer_every_server_and_dms(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "")
    async with open_runtime(config) as runtime, serving(bot_of(runtime)) as bot:
        assert sorted(fake.gateway.identified) == [[0, 3], [1, 3], [2, 3]]
        assert guild_ids(bot) == on_shards(fake, 0, 1, 2)
        for shard, channel in servers.items():
            thread = await mention(fake, channel, f"hello from shard {shard}")
            await answered(fake, thread, f"hello from shard {shard}")
        dm = str(fake.add_dm_channel(fake.user_id)["id"])
        await fake.dispatch("MESSAGE_CREATE", fake.message_create(dm, fake.user_id, "psst"))
        await answered(fake, dm, "psst")
        # Each shard's session carried its own servers' messages; the DM came on shard 0.
        for shard in range(COUNT):
            session = fake.gateway.line(shard).session
            assert session is not None
            texts = [
                str(f["d"].get("content")) for f in session.history if f["t"] == "MESSAGE_CREATE"
            ]
            assert any(f"hello from shard {shard}" in text for text in texts)
        assert fake.gateway.undelivered == []
        assert bot.connected


async def test_slash_commands_and_buttons_on_every_shard(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "")
    async with open_runtime(config) as runtime, serving(bot_of(runtime)):
        assert sorted(c["name"] for c in fake.commands()) == ["ask", "chat", "persona", "reset"]
        for shard, channel in servers.items():
            interaction = await ask(fake, channel, f"asked on shard {shard}")
            assert interaction.callback_type == 5  # deferred at once, then answered
        thread = await mention(fake, servers[2], "rate me")
        # The buttons come with the reply's last edit.
        await wait_until(lambda: any(m.components for m in fake.posted(thread)), message="buttons")
        (reply,) = fake.posted(thread)
        click = await fake.click_button(reply, fake.user_id, "👍")
        clicked = fake.interaction(str(click["id"]))
        await wait_until(lambda: clicked.callback_type == 6)


async def test_a_replica_with_ids_1_runs_only_shard_1(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "      ids: [1]\n")
    async with open_runtime(config) as runtime, serving(bot_of(runtime)) as bot:
        assert fake.gateway.identified == [[1, 3]]
        assert guild_ids(bot) == on_shards(fake, 1)
        unseen = await mention(fake, servers[0], "anyone?")
        thread = await mention(fake, servers[1], "here?")
        await answered(fake, thread, "here?")
        # Discord had no session on shard 0 to deliver the first mention to.
        assert fake.gateway.undelivered == [(0, "MESSAGE_CREATE")]
        assert fake.posted(unseen) == [] and fake.posted(servers[0]) == []


async def test_two_replicas_share_the_shards_and_answer_each_server_once(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "      per_replica: 2\n")
    roles = SharedRoles()
    async with watching_turns() as turns, open_runtime(config) as runtime:
        first = bot_of(runtime, replica_engine(runtime, roles.replica("a")))
        second = bot_of(runtime, replica_engine(runtime, roles.replica("b")))
        async with serving(first), serving(second):
            assert guild_ids(first) == on_shards(fake, 0, 1)
            assert guild_ids(second) == on_shards(fake, 2)
            threads = [await mention(fake, servers[s], f"once {s}") for s in range(COUNT)]
            for shard, thread in enumerate(threads):
                await answered(fake, thread, f"once {shard}")
            await wait_until(lambda: not turns.running(), message="no turn runs")
            assert [len(fake.posted(thread)) for thread in threads] == [1, 1, 1]
            assert turns.count() == COUNT
        # Slash commands were synced once, by whichever replica got to it first.
        puts = fake.calls_to("PUT", f"/applications/{fake.application_id}/commands")
        assert len(puts) == 1


async def test_shards_held_by_another_replica_stop_the_bot_with_an_error(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "      ids: [0, 1]\n")
    roles = SharedRoles()
    assert await roles.replica("other").hold("discord:disco:shard:1")
    async with open_runtime(config) as runtime:
        bot = bot_of(runtime, replica_engine(runtime, roles.replica("me")))
        with pytest.raises(Exception, match="shard 1 of 3 is run by another live replica"):
            await bot.run()
    assert fake.identify_count == 0 and fake.gateway.connections == []


async def test_per_replica_takes_the_first_free_shards(
    tmp_path: Path, fake: FakeDiscord, fake_openai: FakeOpenAI, servers: dict[int, str], env: None
) -> None:
    config = configure(tmp_path, fake, fake_openai, "      per_replica: 2\n")
    roles = SharedRoles()
    assert await roles.replica("other").hold("discord:disco:shard:1")
    async with open_runtime(config) as runtime:
        bot = bot_of(runtime, replica_engine(runtime, roles.replica("me")))
        async with serving(bot):
            assert sorted(fake.gateway.identified) == [[0, 3], [2, 3]]
            assert guild_ids(bot) == on_shards(fake, 0, 2)


async def test_per_replica_with_no_free_shard_does_not_start(
    tmp_path: Path,
    fake: FakeDiscord,
    fake_openai: FakeOpenAI,
    env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = configure(tmp_path, fake, fake_openai, "      per_replica: 1\n")
    roles = SharedRoles()
    for shard in range(COUNT):
        assert await roles.replica("other").hold(f"discord:disco:shard:{shard}")
    async with open_runtime(config) as runtime:
        await bot_of(runtime, replica_engine(runtime, roles.replica("me"))).run()
    assert fake.identify_count == 0
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("other live replicas run all of its 3 shards; not started" in w for w in warned)
