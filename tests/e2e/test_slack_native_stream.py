"""Slack's native streaming end to end: one message per reply from chat.startStream to
chat.stopStream, and chat.update on the same message wherever a stream cannot go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.slack_env import (
    DM,
    GENERAL,
    SlackWorld,
    running_slack,
    slack,
    slack_assistant_pane,
    slack_edits,
    slack_env,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_state import ApiCall
from tests.fakes.slack_streams import MARKDOWN_TEXT_LIMIT, STOPPED

__all__ = ["slack", "slack_assistant_pane", "slack_edits", "slack_env"]

WORDS = ("One. ", "Two. ", "Three. ", "Four.")


def _stepped(world: SlackWorld) -> list[asyncio.Event]:
    """The model sends WORDS one at a time, each once the test lets it go."""
    steps = [asyncio.Event() for _ in WORDS[1:]]
    world.openai.enqueue(Script(chunks=WORDS, release_chunks=steps))
    return steps


def _count(world: SlackWorld, method: str) -> int:
    return len(world.slack.calls_to(method))


async def _appended(world: SlackWorld, count: int) -> None:
    await wait_until(lambda: _count(world, "chat.appendStream") >= count)


async def test_a_mention_is_answered_by_one_stream_from_start_to_stop(slack: SlackWorld) -> None:
    steps = _stepped(slack)
    event = await slack.mention("count to four")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    for done, step in enumerate(steps[:-1], start=1):
        step.set()
        await _appended(slack, done)
    steps[-1].set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    fake = slack.slack
    assert reply.markdown_text == "".join(WORDS)
    (start,) = fake.calls_to("chat.startStream")
    assert start.params["thread_ts"] == event["ts"]
    assert (start.params["recipient_user_id"], start.params["recipient_team_id"]) == (
        event["user"],
        fake.team_id,
    )
    appended = [call.params["markdown_text"] for call in fake.calls_to("chat.appendStream")]
    (stop,) = fake.calls_to("chat.stopStream")
    # Each word once: the first in the start, the middle ones appended, the last at the stop
    # (a trailing blank waits for the words after it: it shows nothing, and the end is stripped).
    sent = [start.params["markdown_text"], *appended, stop.params["markdown_text"]]
    assert sent == ["One.", " Two.", " Three.", " Four."]
    assert fake.streams.states[(GENERAL, reply.ts)] == STOPPED
    assert _count(slack, "chat.postMessage") == _count(slack, "chat.update") == 0


async def test_a_stream_expired_mid_reply_goes_on_by_update_each_word_once(
    slack: SlackWorld,
) -> None:
    steps = _stepped(slack)
    event = await slack.mention("count to four, slowly")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    steps[0].set()
    await _appended(slack, 1)
    (reply,) = slack.replies(GENERAL, event["ts"])
    assert reply.markdown_text == "One. Two."
    slack.slack.expire_stream(GENERAL, reply.ts)  # five minutes on, as far as Slack cares
    steps[1].set()
    await wait_until(lambda: _count(slack, "chat.update") == 1)
    steps[2].set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "".join(WORDS)
    updates = [_text(call) for call in slack.slack.calls_to("chat.update")]
    # The whole text each time, on the same message: nothing lost, nothing twice.
    assert updates[0] == "One. Two. Three. " and updates[-1] == "".join(WORDS)
    assert {call.params["ts"] for call in slack.slack.calls_to("chat.update")} == {reply.ts}
    assert _count(slack, "chat.stopStream") == 0  # Slack ended it; there is nothing to stop
    assert _count(slack, "chat.postMessage") == 0


async def test_a_stream_expired_before_its_stop_ends_by_update(slack: SlackWorld) -> None:
    last = asyncio.Event()
    slack.openai.enqueue(Script(chunks=("Almost ", "there."), release_chunks=[last]))
    event = await slack.mention("finish late")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    (reply,) = slack.replies(GENERAL, event["ts"])
    slack.slack.expire_stream(GENERAL, reply.ts)
    last.set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "Almost there."
    (update,) = slack.slack.calls_to("chat.update")
    assert (update.params["ts"], _text(update)) == (reply.ts, "Almost there.")


@pytest.mark.parametrize(
    ("status", "error", "after"),
    [
        (200, "not_allowed", False),  # Slack refuses to stream on mid-reply
        (500, None, True),  # the words were added, but the answer was lost
        (503, None, False),  # nothing was added, and the answer was lost
    ],
    ids=["refused", "landed-answer-lost", "lost"],
)
async def test_an_append_that_fails_goes_on_by_update_each_word_once(
    slack: SlackWorld, status: int, error: str | None, after: bool
) -> None:
    steps = _stepped(slack)
    event = await slack.mention("count to four")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    slack.slack.fail_next("chat.appendStream", status=status, error=error, after=after)
    steps[0].set()
    await wait_until(lambda: _count(slack, "chat.update") == 1)
    for step in steps[1:]:
        step.set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "".join(WORDS).strip()
    assert _count(slack, "chat.appendStream") == 1  # never tried blindly again
    assert slack.slack.calls_to("chat.update")[0].params["markdown_text"] == "One. Two. "
    # A refusal is remembered for the channel, as a refused start is; a lost answer is not.
    slack.openai.enqueue(Script(chunks=("Next.",)))
    again = await slack.mention("and again")
    await slack.settled(GENERAL, again["ts"])
    assert _count(slack, "chat.startStream") == (1 if error == "not_allowed" else 2)


@pytest.mark.parametrize(
    "refusal", ["method_not_supported_for_channel_type", "not_allowed", "unknown_method"]
)
async def test_a_refused_stream_falls_back_to_edits_for_the_channel(
    slack: SlackWorld, refusal: str
) -> None:
    fake = slack.slack
    fake.fail_next("chat.startStream", error=refusal)
    slack.openai.enqueue(Script(chunks=("Posted ", "instead."), delay_between_chunks=0.1))
    event = await slack.mention("stream please")
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "Posted instead."
    assert _count(slack, "chat.postMessage") == 1
    assert _count(slack, "chat.startStream") == 1
    # Slack said no for this channel: the next reply there does not ask again.
    again = await slack.mention("and again")
    (second,) = await slack.settled(GENERAL, again["ts"])
    assert second.markdown_text == "Hello world"
    assert _count(slack, "chat.startStream") == 1 and _count(slack, "chat.postMessage") == 2


@pytest.fixture
async def long_native(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    """Native streaming with a persona allowed replies past 12,000 characters."""
    config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming="native")
    config.write_text(config.read_text().replace("max_tokens: 256", "max_tokens: 4000"))
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


async def test_a_reply_past_12000_characters_goes_on_in_a_new_stream(
    long_native: SlackWorld,
) -> None:
    world = long_native
    paragraphs = [f"Paragraph {n}: " + "words and more words. " * 45 for n in range(16)]
    reply = "\n\n".join(paragraphs)
    assert len(reply) > MARKDOWN_TEXT_LIMIT
    world.openai.enqueue(
        Script(chunks=tuple(reply[i : i + 800] for i in range(0, len(reply), 800)))
    )
    event = await world.mention("write at length")
    replies = await world.settled(GENERAL, event["ts"], count=2)
    texts = [r.markdown_text or "" for r in replies]
    assert len(texts) == 2 and all(len(text) <= MARKDOWN_TEXT_LIMIT for text in texts)
    joined = "\n\n".join(texts)
    assert all(joined.count(f"Paragraph {n}:") == 1 for n in range(16))
    assert joined.split() == reply.split()
    fake = world.slack
    assert len(fake.streams.started) == 2
    assert all(fake.streams.states[stream] == STOPPED for stream in fake.streams.started)
    # The first stream was stopped before the second began.
    methods = [call.method for call in fake.calls if call.method.endswith("Stream")]
    second = [i for i, method in enumerate(methods) if method == "chat.startStream"][1]
    assert "chat.stopStream" in methods[:second]


async def test_streaming_edits_posts_and_updates(slack_edits: SlackWorld) -> None:
    slack = slack_edits
    steps = _stepped(slack)
    event = await slack.mention("count to four")
    await wait_until(lambda: _count(slack, "chat.postMessage") == 1)
    for step in steps[:-1]:
        step.set()
    await wait_until(lambda: _count(slack, "chat.update") >= 1)
    steps[-1].set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "".join(WORDS)
    assert _text(slack.slack.calls_to("chat.update")[-1]) == "".join(WORDS)
    assert not [call for call in slack.slack.calls if call.method.endswith("Stream")]


async def test_a_dms_top_level_is_posted_and_edited(slack_assistant_pane: SlackWorld) -> None:
    # Slack streams only thread replies; on the assistant pane a DM's running conversation is
    # answered at its top level (in the agent view every DM message starts a thread).
    slack = slack_assistant_pane
    await slack.say("hello there", channel=DM)
    await wait_until(lambda: [m.markdown_text for m in slack.slack.posted(DM)] == ["Hello world"])
    await slack.caught_up()
    assert _count(slack, "chat.startStream") == 0
    assert [m.thread_ts for m in slack.slack.posted(DM)] == [None]


def _text(call: ApiCall) -> str:
    """A chat.update's text: markdown_text, or `text` when blocks (the feedback buttons)
    carry it as a markdown block."""
    return str(call.params.get("markdown_text") or call.params.get("text"))
