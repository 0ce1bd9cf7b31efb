"""What a reply that did not reach the platform leaves behind, through the real clients.

Defect 2: text that never reached the platform is never stored as shown, so no later turn
sends it to the model as if the user had read it. Defect 4: a connection dropped under a
post or an edit is one short line in the thread and one log line naming the conversation,
never a traceback.
"""

from __future__ import annotations

import logging

import pytest

from core.types import ConversationKey
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import GENERAL, SlackIn, SlackWorld, slack, slack_env, slack_in
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import Script
from tests.fakes.waiting import wait_until

__all__ = ["discord_env", "discord_world", "slack", "slack_env", "slack_in"]

SECRET = "swordfish"
# The first chunk is posted at once; the rest by an edit, a second later.
CHUNKS = ("The password ", f"is {SECRET}.")


def _turn_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "outcome=" in r.getMessage()]


def _loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def _rows(world: SlackWorld | DiscordWorld, key: ConversationKey) -> list[tuple[str, ...]]:
    history = await world.runtime.store.recent_messages(key, 10)
    return [(m.role, m.status, m.content) for m in history.messages]


def _model_saw(world: SlackWorld | DiscordWorld, index: int) -> str:
    messages = world.openai.requests[index]["messages"]
    assert isinstance(messages, list)
    return "\n".join(str(m["content"]) for m in messages)


# Defect 2 on Slack.


# What posts a reply's first words, and what adds to a message, in each streaming mode.
SLACK_POSTS = {"edits": ("chat.postMessage",), "native": ("chat.startStream", "chat.postMessage")}
SLACK_EDITS = {
    "edits": ("chat.update",),
    "native": ("chat.appendStream", "chat.stopStream", "chat.update"),
}


@pytest.mark.parametrize("streaming", ["edits", "native"])
@pytest.mark.parametrize(
    ("refusal", "cut"),
    [("not_in_channel", False), ("not_in_channel", True), ("internal_error", True)],
    ids=["refused", "refused-then-model-cut", "slack-down-then-model-cut"],
)
async def test_slack_text_that_never_showed_is_not_replayed(
    slack_in: SlackIn,
    streaming: str,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
    cut: bool,
) -> None:
    async with slack_in(streaming) as slack:
        await _never_showed(slack, caplog, streaming, refusal, cut)


async def _never_showed(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture, streaming: str, refusal: str, cut: bool
) -> None:
    fake = slack.slack
    status = 500 if refusal == "internal_error" else 200
    for method in SLACK_POSTS[streaming]:
        fake.fail_next(method, error=refusal, status=status, times=1000)
    slack.openai.enqueue(Script(chunks=CHUNKS, cut_after=1 if cut else None))
    caplog.set_level(logging.INFO)
    root = (await slack.mention("what is the password?"))["ts"]
    await wait_until(lambda: len(_turn_lines(caplog)) == 1, timeout=20, message="no turn line")
    key = ConversationKey("slack", fake.team_id, GENERAL, root)
    rows = await _rows(slack, key)
    assert slack.replies(GENERAL, root) == []
    assert rows[1][:2] == ("assistant", "failed"), rows  # never `partial`: nobody saw it
    assert "outcome=failed" in _turn_lines(caplog)[0]

    fake.reset_faults()
    slack.openai.enqueue(Script(chunks=("Which one?",)))
    await slack.mention("and then?", thread_ts=root)
    await wait_until(lambda: len(_turn_lines(caplog)) == 2, timeout=20, message="no 2nd turn")
    assert len(slack.openai.requests) == 2
    assert "password?" in _model_saw(slack, 1)
    assert SECRET not in _model_saw(slack, 1) and "The password" not in _model_saw(slack, 1)


# Defect 2 on Discord.


def _mention(fake: FakeDiscord, text: str) -> dict[str, object]:
    return fake.message_create(
        fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> {text}", mentions=[fake.bot_user_id]
    )


@pytest.mark.parametrize(
    ("status", "cut"),
    [(403, False), (403, True), (503, True)],
    ids=["refused", "refused-then-model-cut", "discord-down-then-model-cut"],
)
async def test_discord_text_that_never_showed_is_not_replayed(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture, status: int, cut: bool
) -> None:
    world, fake = discord_world, discord_world.discord
    event = _mention(fake, "what is the password?")
    thread = str(event["id"])
    fake.fail_next("POST", f"/channels/{thread}/messages", status=status, times=1000)
    world.openai.enqueue(Script(chunks=CHUNKS, cut_after=1 if cut else None))
    caplog.set_level(logging.INFO)
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: len(_turn_lines(caplog)) == 1, timeout=20, message="no turn line")
    key = ConversationKey("discord", fake.guild_id, fake.channel_id, thread)
    rows = await _rows(world, key)
    assert fake.posted(thread) == []
    assert rows[1][:2] == ("assistant", "failed"), rows
    assert "outcome=failed" in _turn_lines(caplog)[0]

    fake.reset_faults()
    world.openai.enqueue(Script(chunks=("Which one?",)))
    await world.say("and then?", channel=thread)
    await wait_until(lambda: len(_turn_lines(caplog)) == 2, timeout=20, message="no 2nd turn")
    assert len(world.openai.requests) == 2
    assert "password?" in _model_saw(world, 1)
    assert SECRET not in _model_saw(world, 1) and "The password" not in _model_saw(world, 1)


# Defect 4: the connection drops under every edit, mid-reply.


@pytest.mark.parametrize("streaming", ["edits", "native"])
async def test_slack_dropping_edits_is_one_short_line_and_one_log_line(
    slack_in: SlackIn, streaming: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with slack_in(streaming) as slack:
        await _edits_dropped(slack, caplog, streaming)


async def _edits_dropped(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture, streaming: str
) -> None:
    caplog.clear()  # bolt's start-up warnings are not this reply's
    fake = slack.slack
    for method in SLACK_EDITS[streaming]:
        fake.fail_next(method, drop=True, times=1000)
    slack.openai.enqueue(Script(chunks=CHUNKS, delay_between_chunks=0.1))
    caplog.set_level(logging.INFO)
    root = (await slack.mention("what is the password?"))["ts"]
    await wait_until(lambda: len(_turn_lines(caplog)) == 1, timeout=20, message="no turn line")
    shown = [m.markdown_text or "" for m in slack.replies(GENERAL, root)]
    assert shown[0].strip() == CHUNKS[0].strip()  # the first words got through; then drops
    _one_short_line(shown[1:], "connection")
    key = ConversationKey("slack", fake.team_id, GENERAL, root)
    _one_quiet_log_line(caplog, key)
    assert (await _rows(slack, key))[1][:2] == ("assistant", "failed")


async def test_discord_dropping_edits_is_one_short_line_and_one_log_line(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world, fake = discord_world, discord_world.discord
    event = _mention(fake, "what is the password?")
    thread = str(event["id"])
    fake.fail_next("PATCH", f"/channels/{thread}/messages", status=500, drop=True, times=1000)
    world.openai.enqueue(Script(chunks=CHUNKS, delay_between_chunks=0.1))
    caplog.set_level(logging.INFO)
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: len(_turn_lines(caplog)) == 1, timeout=20, message="no turn line")
    shown = [m.content for m in fake.posted(thread)]
    assert shown[0].strip() == CHUNKS[0].strip()
    _one_short_line(shown[1:], "connection")
    key = ConversationKey("discord", fake.guild_id, fake.channel_id, thread)
    _one_quiet_log_line(caplog, key)
    assert (await _rows(world, key))[1][:2] == ("assistant", "failed")


def _one_short_line(after: list[str], about: str) -> None:
    assert len(after) == 1, after
    (line,) = after
    assert about in line and "\n" not in line and len(line) < 120, line


def _one_quiet_log_line(caplog: pytest.LogCaptureFixture, key: ConversationKey) -> None:
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]
    loud = _loud(caplog)
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert str(key) in loud[0].getMessage()
