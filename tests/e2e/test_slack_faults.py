"""Slack refusing, rate-limiting and dropping Parley mid-reply: nothing posted twice or lost."""

from __future__ import annotations

import logging

import pytest

from core.types import ConversationKey
from tests.e2e.slack_env import (
    GENERAL,
    SlackIn,
    SlackWorld,
    slack,
    slack_env,
    slack_in,
)
from tests.fakes.openai_server import Script
from tests.fakes.slack_server import wait_until

__all__ = ["slack", "slack_env", "slack_in"]

# Two chunks 0.1 s apart: the first is posted at once, the second only by the final edit
# (edits wait a second), so a fault on chat.update always hits the edit that completes it.
CHUNKS = ("Rain before ", "seven, fine by eleven.")
REPLY = "".join(CHUNKS)


def _script() -> Script:
    return Script(chunks=CHUNKS, delay_between_chunks=0.1)


async def _stored(world: SlackWorld, thread: str) -> list[tuple[str, str, str]]:
    key = ConversationKey("slack", world.slack.team_id, GENERAL, thread)
    history = await world.runtime.store.recent_messages(key, 10)
    return [(m.role, m.status, m.content) for m in history.messages]


async def _answered_once(world: SlackWorld, thread: str, reply: str = REPLY) -> None:
    """One reply in the thread, showing the whole answer, stored complete."""

    def shown() -> bool:
        return [r.markdown_text for r in world.replies(GENERAL, thread)] == [reply]

    await wait_until(shown, message=f"the thread shows only {reply!r}")
    await world.settled(GENERAL, thread)  # every turn of it ended: nothing more will come
    assert [r.markdown_text for r in world.replies(GENERAL, thread)] == [reply]
    stored = await _stored(world, thread)
    assert stored[-1][:2] == ("assistant", "complete")
    assert stored[-1][2] == reply  # the stored text is the model's whole reply


@pytest.mark.parametrize(
    ("streaming", "method", "status", "retry_after", "after"),
    [
        ("edits", "chat.postMessage", 429, 0, False),
        ("edits", "chat.postMessage", 500, None, False),
        ("edits", "chat.postMessage", 502, None, False),
        ("edits", "chat.postMessage", 503, None, False),
        ("edits", "chat.update", 429, 1, False),
        ("edits", "chat.update", 500, None, False),
        ("edits", "chat.update", 503, None, False),
        ("edits", "chat.update", 504, None, False),
        # A stream's first words: tried again (a 429), or looked for first (a lost answer).
        ("native", "chat.startStream", 429, 0, False),
        ("native", "chat.startStream", 500, None, False),
        ("native", "chat.startStream", 503, None, True),
        # Its last words: a lost answer may or may not have added them; chat.update makes
        # the message show the whole reply, once.
        ("native", "chat.stopStream", 429, 0, False),
        ("native", "chat.stopStream", 500, None, False),
        ("native", "chat.stopStream", 502, None, True),
    ],
)
async def test_a_transient_slack_fault_neither_repeats_nor_cuts_the_reply(
    slack_in: SlackIn,
    streaming: str,
    method: str,
    status: int,
    retry_after: float | None,
    after: bool,
) -> None:
    async with slack_in(streaming) as slack:
        slack.openai.enqueue(_script())
        slack.slack.fail_next(method, status=status, retry_after=retry_after, after=after)
        event = await slack.mention("weather tomorrow?")
        await _answered_once(slack, event["ts"])
        calls = slack.slack.calls_to(method)
        # A stream whose answer was lost is found in the thread, not started again.
        found = after and bool(slack.slack.calls_to("conversations.replies"))
        assert len(calls) >= 2 or found, "the failed call was tried again"
        assert len(slack.openai.requests) == 1


@pytest.mark.parametrize("streaming", ["edits", "native"])
async def test_slack_down_for_every_post_keeps_the_question_and_serves_the_next(
    slack_in: SlackIn, streaming: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with slack_in(streaming) as slack:
        await _down_then_back(slack, caplog)


async def _down_then_back(slack: SlackWorld, caplog: pytest.LogCaptureFixture) -> None:
    fake = slack.slack
    for method in ("chat.postMessage", "chat.startStream"):
        fake.fail_next(method, status=500, times=1000)
    slack.openai.enqueue(_script())
    with caplog.at_level(logging.INFO):
        lost = await slack.mention("anyone there?")
        thread = lost["ts"]
        await slack.turns.ended(1, slack.key(GENERAL, thread))
    stored = await _stored(slack, thread)
    assert [s[:2] for s in stored] == [("user", "complete"), ("assistant", stored[1][1])]
    assert stored[0][2].endswith("anyone there?")
    assert stored[1][1] in ("partial", "failed")
    assert slack.replies(GENERAL, thread) == []
    turn_lines = [r.getMessage() for r in caplog.records if "outcome=" in r.getMessage()]
    assert len(turn_lines) == 1 and "SlackDeliveryError" in turn_lines[0], turn_lines
    # Slack recovers: the next question is answered in full, once.
    posts = len(fake.calls_to("chat.postMessage") + fake.calls_to("chat.startStream"))
    fake.reset_faults()
    slack.openai.enqueue(_script())
    again = await slack.mention("and now?")
    await _answered_once(slack, again["ts"])
    assert len(fake.calls_to("chat.postMessage") + fake.calls_to("chat.startStream")) > posts


async def test_a_dropped_socket_mid_reply_reconnects_and_repeats_nothing(
    slack: SlackWorld,
) -> None:
    chunks = ("Slow ", "and ", "steady ", "wins.")
    slack.openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.3))
    event = await slack.mention("tell me slowly")
    await wait_until(lambda: len(slack.openai.requests) == 1)
    await slack.slack.drop_client()  # no "disconnect" first: the connection just dies
    # Unsure its ack arrived, Slack re-sends the event on the new socket, twice.
    for attempt in (1, 2):
        await slack.slack.send_event(event, retry_attempt=attempt, retry_reason="timeout")
    await wait_until(lambda: slack.slack.connections == 2)
    await _answered_once(slack, event["ts"], "".join(chunks))
    assert len(slack.openai.requests) == 1
    slack.openai.enqueue(_script())
    again = await slack.mention("still there?")
    await _answered_once(slack, again["ts"])
