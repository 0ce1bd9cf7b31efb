"""A model that writes @everyone, @here, <@user> and <@&role> pings nobody on Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.discord_env import (
    DiscordWorld,
    discord_env,
    discord_world,
    running,
    write_config,
)
from tests.fakes.discord_server import FakeDiscord, FakeDiscordMessage, wait_until
from tests.fakes.openai_server import FakeOpenAI, Script

__all__ = ["discord_env", "discord_world"]

STRANGER = "1300000000000000999"
ROLE = "1300000000000000456"
PINGING = ("Hey @everyone ", "and @here, ", f"ask <@{STRANGER}> ", f"or <@&{ROLE}>.")
PINGING_TEXT = "".join(PINGING)


def assert_pings_nobody(fake: FakeDiscord, messages: list[FakeDiscordMessage]) -> None:
    assert messages
    for message in messages:
        assert fake.pinged(message) == set(), message.content
        assert message.allowed_mentions == {"parse": []}
    # Every post and edit on the way, streamed ones included, carried the same rules.
    writes = [
        call
        for call in fake.calls
        if call.method in ("POST", "PATCH")
        and isinstance(call.json, dict)
        and "content" in call.json
    ]
    assert writes
    assert all(call.json.get("allowed_mentions") == {"parse": []} for call in writes), writes


async def test_a_reply_in_a_new_thread_pings_nobody(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=PINGING, delay_between_chunks=0.05))
    thread = await world.say("greet the team", mention=True)
    await world.bot_says(thread, PINGING_TEXT)
    posted = world.discord.posted(thread)
    # Streamed: posted early, then edited; the edits carry the same limits.
    assert posted[0].edits >= 1
    assert_pings_nobody(world.discord, posted)


@pytest.fixture
async def reply_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    config = write_config(
        tmp_path / "bots.yaml", fake_discord, fake_openai, "    mention_reply: reply\n"
    )
    async with running(config, fake_discord, fake_openai) as world:
        yield world


async def test_a_reply_under_the_message_pings_nobody_not_even_the_asker(
    reply_world: DiscordWorld,
) -> None:
    world, fake = reply_world, reply_world.discord
    world.openai.enqueue(Script(chunks=PINGING))
    asked = await world.say("greet the team", mention=True)
    await world.bot_says(fake.channel_id, PINGING_TEXT)
    answer = fake.posted(fake.channel_id)[-1]
    assert answer.message_reference is not None
    assert str(answer.message_reference["message_id"]) == asked
    assert_pings_nobody(fake, [answer])


async def test_ask_pings_nobody(discord_world: DiscordWorld) -> None:
    world, fake = discord_world, discord_world.discord
    world.openai.enqueue(Script(chunks=PINGING))
    event = fake.interaction_create("ask", options={"prompt": "greet the team"})
    await fake.dispatch("INTERACTION_CREATE", event)
    interaction = fake.interaction(str(event["id"]))

    def answered() -> bool:
        return interaction.original is not None and interaction.original.content == PINGING_TEXT

    await wait_until(answered)
    assert interaction.original is not None
    assert_pings_nobody(fake, [interaction.original])


async def test_chat_repeats_the_users_words_without_their_pings(
    discord_world: DiscordWorld,
) -> None:
    world, fake = discord_world, discord_world.discord
    world.openai.enqueue(Script(chunks=PINGING))
    event = fake.interaction_create("chat", options={"prompt": "@everyone look"})
    await fake.dispatch("INTERACTION_CREATE", event)
    interaction = fake.interaction(str(event["id"]))

    def opened() -> bool:
        original = interaction.original
        return original is not None and original.content.startswith("Let's talk in <#")

    await wait_until(opened)
    assert interaction.original is not None
    thread = interaction.original.content.split("<#")[1].split(">")[0]
    await world.bot_says(thread, PINGING_TEXT)
    opening, answer = fake.posted(thread)
    assert opening.content == "**Alice:** @everyone look"
    assert_pings_nobody(fake, [interaction.original, opening, answer])
