"""👍/👎 on Discord replies: real discord.py against the fake's component interactions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.store.feedback import FeedbackRow
from tests.e2e.discord_env import (
    DiscordWorld,
    discord_env,
    discord_long_replies,
    discord_world,
    running,
    write_config,
)
from tests.fakes.discord_components import button_with, component_interaction
from tests.fakes.discord_server import FakeDiscord, FakeDiscordMessage, wait_until
from tests.fakes.openai_server import FakeOpenAI, Script

__all__ = ["discord_env", "discord_long_replies", "discord_world"]

BOB = "400000000000000077"


async def feedback_rows(world: DiscordWorld) -> list[FeedbackRow]:
    now = datetime.now(UTC)
    return await world.runtime.store.feedback.rows(now - timedelta(days=1), now + timedelta(1))


def reply_id_of(message: FakeDiscordMessage) -> int:
    return int(str(button_with(message, "👍")["custom_id"]).rpartition(":")[2])


async def answered(world: DiscordWorld, text: str = "Forty-two.") -> tuple[str, FakeDiscordMessage]:
    """A mention answered in its new thread; the thread's id and the reply."""
    world.openai.enqueue(Script(chunks=(text,)))
    thread = await world.say("what is the answer?", mention=True)
    (reply,) = await world.settled(thread)
    return thread, reply


async def test_buttons_under_the_reply_and_one_rating_per_user(
    discord_world: DiscordWorld,
) -> None:
    world, fake = discord_world, discord_world.discord
    fake.add_user(BOB, "bob")
    thread, reply = await answered(world)
    assert reply.content == "Forty-two."
    feedback = f"feedback:discord:{reply_id_of(reply)}"
    shown_before = (len(fake.messages(thread)), len(fake.messages(fake.channel_id)))

    first = await fake.click_button(reply, fake.user_id, "👍")
    await world.turns.ended(1, feedback)
    await fake.dispatch("INTERACTION_CREATE", first)  # the gateway replays the same click
    await fake.click_button(reply, fake.user_id, "👍")  # clicked twice
    await fake.click_button(reply, BOB, "👍")
    await world.turns.ended(3, feedback)
    (row,) = await feedback_rows(world)
    assert (row.platform, row.bot, row.persona, row.up, row.down) == (
        "discord", "disco", "helper", 2, 0,
    )  # fmt: skip

    await fake.click_button(reply, fake.user_id, "👎")  # a changed mind
    await world.turns.ended(4, feedback)
    (row,) = await feedback_rows(world)
    assert (row.up, row.down) == (1, 1)

    # Each click was answered in time by a deferred update; nothing was posted for it.
    clicks = [i for i in fake.world.interactions.values() if i.name.startswith("parley_feedback")]
    assert len(clicks) == 4
    assert all(i.callback_type == 6 and i.callbacks == 1 for i in clicks)
    assert all(i.original is None and not i.followups for i in clicks)
    assert (len(fake.messages(thread)), len(fake.messages(fake.channel_id))) == shown_before


async def test_a_click_naming_a_reply_parley_does_not_know_is_ignored(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.engine")
    world, fake = discord_world, discord_world.discord
    _, reply = await answered(world)
    unknown = reply_id_of(reply) + 1000
    forged = component_interaction(fake.world, reply, fake.user_id, f"parley_feedback:up:{unknown}")
    await fake.dispatch("INTERACTION_CREATE", forged)
    await world.turns.ended(1, f"feedback:discord:{unknown}")
    assert fake.interaction(str(forged["id"])).callback_type == 6
    assert await feedback_rows(world) == []
    assert f"feedback on reply {unknown} in discord:" in caplog.text
    assert "no reply of bot disco is stored there" in caplog.text
    await world.caught_up()  # the bot still answers


async def test_a_long_reply_has_buttons_on_its_last_part_only(
    discord_long_replies: DiscordWorld,
) -> None:
    world = discord_long_replies
    world.openai.enqueue(Script(chunks=(" ".join(f"word{i}" for i in range(700)),)))
    thread = await world.say("tell me everything", mention=True)
    parts = await world.settled(thread, count=2)
    assert [bool(p.components) for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_feedback_false_shows_no_buttons(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    config = write_config(
        tmp_path / "bots.yaml", fake_discord, fake_openai, "    feedback: false\n"
    )
    async with running(config, fake_discord, fake_openai) as world:
        _, reply = await answered(world)
        assert reply.content == "Forty-two."
        assert reply.components == []


async def test_an_ask_answer_in_a_channel_takes_a_click(discord_world: DiscordWorld) -> None:
    world, fake = discord_world, discord_world.discord
    world.openai.enqueue(Script(chunks=("Forty-two.",)))
    event = fake.interaction_create("ask", options={"prompt": "the answer?"})
    await fake.dispatch("INTERACTION_CREATE", event)

    def buttons_shown() -> bool:
        original = fake.interaction(str(event["id"])).original
        return original is not None and bool(original.components)

    await wait_until(buttons_shown)
    original = fake.interaction(str(event["id"])).original
    assert original is not None and original.content == "Forty-two."
    await fake.click_button(original, fake.user_id, "👎")
    await world.turns.ended(1, f"feedback:discord:{reply_id_of(original)}")
    (row,) = await feedback_rows(world)
    assert (row.workspace, row.up, row.down) == (fake.guild_id, 0, 1)
