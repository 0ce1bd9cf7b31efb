"""Replicas of one Discord bot on one PostgreSQL: each Parley runtime claims its shards
through the database's advisory locks, and the fake Discord's three shards are shared."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from tests.e2e.replicas import serving
from tests.e2e.test_discord_shards import (
    COUNT,
    answered,
    bot_of,
    configure,
    env,
    fake,
    guild_ids,
    mention,
    on_shards,
    servers,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["env", "fake", "servers"]

ON_FILE = "storage: {path: data/parley.db}\n"


@pytest.fixture
def shared_config(
    tmp_path: Path,
    fake: FakeDiscord,
    fake_openai: FakeOpenAI,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    env: None,
) -> Path:
    monkeypatch.setenv("PARLEY_TEST_DATABASE", postgres_url)
    config = configure(tmp_path, fake, fake_openai, "      per_replica: 2\n")
    text = config.read_text()
    assert ON_FILE in text
    config.write_text(text.replace(ON_FILE, "storage: {url: '${PARLEY_TEST_DATABASE}'}\n"))
    return config


@contextlib.asynccontextmanager
async def replica(
    name: str, config: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Runtime]:
    """One Parley replica: its name is read as its store opens."""
    monkeypatch.setenv("PARLEY_REPLICA", name)
    async with open_runtime(config) as runtime:
        yield runtime


async def test_replicas_on_one_database_split_the_shards_and_answer_once(
    fake: FakeDiscord,
    servers: dict[int, str],
    shared_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        replica("a", shared_config, monkeypatch) as first,
        serving(bot_of(first)) as first_bot,
        replica("b", shared_config, monkeypatch) as second,
        serving(bot_of(second)) as second_bot,
    ):
        assert guild_ids(first_bot) == on_shards(fake, 0, 1)
        assert guild_ids(second_bot) == on_shards(fake, 2)
        threads = [await mention(fake, servers[s], f"shared {s}") for s in range(COUNT)]
        for shard, thread in enumerate(threads):
            await answered(fake, thread, f"shared {shard}")
        # A third replica finds every shard taken: its Discord bot does not start.
        async with replica("c", shared_config, monkeypatch) as third:
            await bot_of(third).run()
        assert fake.identify_count == COUNT
        assert [len(fake.posted(thread)) for thread in threads] == [1, 1, 1]
    puts = fake.calls_to("PUT", f"/applications/{fake.application_id}/commands")
    assert len(puts) == 1


async def test_a_stopped_replicas_shards_go_to_the_next_replica(
    fake: FakeDiscord,
    servers: dict[int, str],
    shared_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with contextlib.AsyncExitStack() as stays:
        second = await stays.enter_async_context(replica("b", shared_config, monkeypatch))
        second_bot = await stays.enter_async_context(serving(bot_of(second)))
        async with replica("a", shared_config, monkeypatch) as first, serving(bot_of(first)):
            pass  # a ran shard 2, the only one b left free; its locks go as its store closes
        assert guild_ids(second_bot) == on_shards(fake, 0, 1)
        async with (
            replica("c", shared_config, monkeypatch) as third,
            serving(bot_of(third)) as third_bot,
        ):
            assert guild_ids(third_bot) == on_shards(fake, 2)
            thread = await mention(fake, servers[2], "taken over")
            await answered(fake, thread, "taken over")
