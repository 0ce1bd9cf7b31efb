"""Odd and hostile messages through the real Discord adapter: a reply or a clear limit, no crash."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.commands import GREETING as HINT
from tests.e2e.discord_env import (
    DiscordWorld,
    discord_env,
    discord_long_replies,
    discord_world,
    running,
    write_config,
)
from tests.e2e.test_slack_bad_input import BINARIES, ODD_TEXTS
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user

__all__ = ["discord_env", "discord_long_replies", "discord_world"]

LIMIT = 2000


def _fences_balanced(text: str) -> bool:
    return sum(1 for line in text.splitlines() if line.lstrip().startswith("```")) % 2 == 0


async def _mention(world: DiscordWorld, text: str, **fields: object) -> str:
    fake = world.discord
    event = fake.message_create(
        fake.channel_id,
        fake.user_id,
        f"<@{fake.bot_user_id}> {text}",
        mentions=[fake.bot_user_id],
        **fields,  # type: ignore[arg-type]  # attachments only, typed by the fake
    )
    await fake.dispatch("MESSAGE_CREATE", event)
    return str(event["id"])


@pytest.mark.parametrize("text", ODD_TEXTS.values(), ids=ODD_TEXTS.keys())
async def test_an_odd_message_gets_a_reply_and_the_bot_lives_on(
    discord_world: DiscordWorld, text: str
) -> None:
    world = discord_world
    world.openai.default = echo_last_user
    thread = await _mention(world, text)
    replies = await world.settled(thread)
    assert all(0 < len(r.content) <= LIMIT for r in replies)
    assert all(_fences_balanced(r.content) for r in replies), [r.content for r in replies]
    user_turn = world.openai.requests[-1]["messages"][-1]  # type: ignore[index]
    assert user_turn["role"] == "user" and user_turn["content"].startswith("[Alice] ")
    name = world.discord.channel(thread)["name"]
    assert 0 < len(name) <= 100 and "\x00" not in name
    follow_up = await _mention(world, "still there?")
    await world.bot_says(follow_up, "echo: [Alice] still there?")


@pytest.mark.parametrize("text", ["", "\u200b\u200d\ufeff", "\n\t\u2063"])
async def test_an_empty_mention_gets_a_hint_and_no_model_call(
    discord_world: DiscordWorld, text: str
) -> None:
    world = discord_world
    message = await _mention(world, text)
    await world.turns.ended(1, world.key(message))
    (hint,) = world.discord.posted(world.discord.channel_id)
    assert hint.content == HINT
    assert hint.message_reference is not None
    assert hint.message_reference["message_id"] == message
    assert world.openai.requests == []
    assert world.discord.posted(message) == []  # no thread was opened for it


async def test_a_reply_with_an_unclosed_fence_is_split_balanced(
    discord_long_replies: DiscordWorld,
) -> None:
    world = discord_long_replies
    code = "\n".join(f"value_{n} = {n}  # {'y' * 50}" for n in range(60))
    world.openai.enqueue(Script(chunks=("Code:\n```py\n", code, "\nand I never close it")))
    thread = await _mention(world, "code please")
    await wait_until(lambda: len(world.discord.posted(thread)) >= 3)
    replies = await world.settled(thread)
    assert all(len(r.content) <= LIMIT and _fences_balanced(r.content) for r in replies)


@pytest.mark.parametrize("name,mime,data", BINARIES.values(), ids=BINARIES.keys())
async def test_a_binary_file_named_txt_is_named_unread(
    discord_world: DiscordWorld, name: str, mime: str, data: bytes
) -> None:
    world = discord_world
    attachment = world.discord.add_attachment(name, mime, data)
    thread = await _mention(world, "read it", attachments=[attachment])
    replies = await world.settled(thread)
    assert f"not read: {name}" in replies[-1].content
    sent = world.openai.requests[-1]["messages"][-1]["content"]  # type: ignore[index]
    assert f"[attached file not read: {name}" in sent
    assert "PK" not in sent and "PNG" not in sent


async def test_an_oversized_attachment_is_not_downloaded_and_named(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    config.write_text(config.read_text() + "limits: {file_bytes: 100}\n")
    async with running(config, fake_discord, fake_openai) as world:
        big = fake_discord.add_attachment("big.log", "text/plain", b"z" * 5000)
        thread = await _mention(world, "read my log", attachments=[big])
        replies = await world.settled(thread)
    assert "not read: big.log" in replies[-1].content
    sent = fake_openai.requests[-1]["messages"][-1]["content"]  # type: ignore[index]
    assert "zzzz" not in sent
    assert fake_discord.downloads == []


def _without_author(event: dict[str, object]) -> None:
    del event["author"]


def _mentions_as_text(event: dict[str, object]) -> None:
    event["mentions"] = "everyone"


def _id_not_a_number(event: dict[str, object]) -> None:
    event["id"] = "not-a-snowflake"


MALFORMED = {
    "no_author": _without_author,
    "mentions_a_string": _mentions_as_text,
    "id_not_a_number": _id_not_a_number,
}

# Other events a hostile or buggy gateway might garble, each raising in its own parser.
OTHER_EVENTS: dict[str, object] = {
    "MESSAGE_UPDATE": {"id": "x", "channel_id": []},
    "MESSAGE_DELETE": {"id": "x", "channel_id": "y"},
    "INTERACTION_CREATE": {"id": "1", "type": "x"},
    "GUILD_CREATE": {"id": "nope"},
    "CHANNEL_CREATE": "a string",
}


async def test_malformed_gateway_payloads_are_logged_and_skipped(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """discord.py's parsers raise on these; one raising used to end the bot's gateway loop."""
    caplog.set_level(logging.WARNING, logger="bots.discord.bot")
    world = discord_world
    world.openai.default = echo_last_user
    fake = world.discord
    for name, spoil in MALFORMED.items():
        event = fake.message_create(
            fake.channel_id,
            fake.user_id,
            f"<@{fake.bot_user_id}> {name}",
            mentions=[fake.bot_user_id],
        )
        spoil(event)
        await fake.dispatch("MESSAGE_CREATE", event)
    await fake.dispatch("MESSAGE_CREATE", None)  # a dispatch with no body at all
    for other, body in OTHER_EVENTS.items():
        await fake.dispatch(other, body)
    thread = await _mention(world, "still there?")
    await world.bot_says(thread, "echo: [Alice] still there?")
    skipped = [r for r in caplog.records if "skipped a malformed" in r.getMessage()]
    assert len(skipped) == len(MALFORMED) + 1 + len(OTHER_EVENTS), [r.getMessage() for r in skipped]
    assert all(r.exc_info is None for r in skipped)  # one line each, no traceback
