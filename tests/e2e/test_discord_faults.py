"""Discord rate-limiting, failing and reconnecting mid-reply: nothing posted twice or lost."""

from __future__ import annotations

import logging

import pytest

from core.types import ConversationKey
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import Script

__all__ = ["discord_env", "discord_world"]

# The first chunk is posted at once and the second by an edit: a POST fault hits the post,
# a PATCH fault the edit that completes the reply.
CHUNKS = ("Rain before ", "seven, fine by eleven.")
REPLY = "".join(CHUNKS)


def _mention(fake: FakeDiscord, text: str) -> dict[str, object]:
    return fake.message_create(
        fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> {text}", mentions=[fake.bot_user_id]
    )


async def _stored(world: DiscordWorld, thread: str) -> list[tuple[str, str, str]]:
    key = ConversationKey("discord", world.discord.guild_id, world.discord.channel_id, thread)
    history = await world.runtime.store.recent_messages(key, 10)
    return [(m.role, m.status, m.content) for m in history.messages]


async def _answered_once(world: DiscordWorld, thread: str, reply: str = REPLY) -> None:
    """One message in the thread, showing the whole answer, stored complete."""

    def shown() -> bool:
        return [m.content for m in world.discord.posted(thread)] == [reply]

    await wait_until(shown, message=f"the thread shows only {reply!r}")
    await world.settled(thread)  # every turn has ended: nothing more will come
    assert [m.content for m in world.discord.posted(thread)] == [reply]
    assert world.discord.posted(world.discord.channel_id) == []
    stored = await _stored(world, thread)
    assert [s[:2] for s in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[-1][2] == reply


@pytest.mark.parametrize(
    ("method", "status", "global_", "times"),
    [
        ("POST", 429, False, 1),
        ("POST", 429, True, 1),
        ("PATCH", 429, False, 1),
        ("PATCH", 429, True, 1),
        ("POST", 500, False, 1),  # discord.py retries 500, 502 and 504 itself, after 1 s
        ("POST", 503, False, 1),  # ... but not 503
        ("PATCH", 502, False, 1),
        ("PATCH", 503, False, 1),
        ("PATCH", 503, False, 2),  # the streaming edit and the final one
    ],
)
async def test_a_transient_discord_fault_neither_repeats_nor_cuts_the_reply(
    discord_world: DiscordWorld, method: str, status: int, global_: bool, times: int
) -> None:
    world, fake = discord_world, discord_world.discord
    world.openai.enqueue(Script(chunks=CHUNKS, delay_between_chunks=0.1))
    event = _mention(fake, "weather tomorrow?")
    thread = str(event["id"])
    where = f"/channels/{thread}/messages" + ("/" if method == "PATCH" else "")
    # Discord's 429: Retry-After, X-RateLimit-*, `Via`, and {retry_after, global} in the body.
    fake.fail_next(method, where, status=status, retry_after=0.2, global_=global_, times=times)
    await fake.dispatch("MESSAGE_CREATE", event)
    await _answered_once(world, thread)
    assert len(fake.calls_to(method, where)) >= times + 1, "the failed call was tried again"
    assert len(world.openai.requests) == 1


@pytest.mark.parametrize("how", ["reconnect", "resumable_invalid_session", "dropped"])
async def test_a_gateway_resume_mid_reply_repeats_nothing(
    discord_world: DiscordWorld, how: str
) -> None:
    world, fake = discord_world, discord_world.discord
    chunks = ("Slow ", "and ", "steady ", "wins.")
    world.openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.3))
    event = _mention(fake, "tell me slowly")
    thread = str(event["id"])
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: len(world.openai.requests) == 1)
    if how == "reconnect":
        await fake.request_reconnect()  # op 7
    elif how == "dropped":
        await fake.drop_connection()  # close 4000, no op 7
    else:
        await fake.invalidate_session(resumable=True)  # op 9, d: true
    # Sent while the client is away: kept and replayed after its RESUME, as Discord does
    # when it is unsure the client saw it.
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: fake.resume_count == 1)
    await _answered_once(world, thread, "".join(chunks))
    assert fake.identify_count == 1
    assert len(world.openai.requests) == 1
    world.openai.enqueue(Script(chunks=CHUNKS, delay_between_chunks=0.1))
    again = _mention(fake, "still there?")
    await fake.dispatch("MESSAGE_CREATE", again)
    await _answered_once(world, str(again["id"]))


async def test_discord_down_for_every_post_keeps_the_question_and_serves_the_next(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world, fake = discord_world, discord_world.discord
    event = _mention(fake, "anyone there?")
    thread = str(event["id"])
    fake.fail_next("POST", f"/channels/{thread}/messages", status=503, times=1000)
    world.openai.enqueue(Script(chunks=CHUNKS, delay_between_chunks=0.1))
    with caplog.at_level(logging.INFO):
        await fake.dispatch("MESSAGE_CREATE", event)
        await world.turns.ended(1, world.key(thread))
    assert "could not be finished" in caplog.text
    stored = await _stored(world, thread)
    assert stored[0][:2] == ("user", "complete") and stored[0][2].endswith("anyone there?")
    # Never shown, so never replayed as if the user had read it; the log agrees.
    assert stored[1][:2] == ("assistant", "failed")
    assert "outcome=failed" in caplog.text and "outcome=complete" not in caplog.text
    assert fake.posted(thread) == []
    world.openai.enqueue(Script(chunks=CHUNKS, delay_between_chunks=0.1))
    again = _mention(fake, "and now?")
    await fake.dispatch("MESSAGE_CREATE", again)
    await _answered_once(world, str(again["id"]))
