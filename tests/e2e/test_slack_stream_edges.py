"""Slack native streaming at its edges: the 12,000-character limit as Slack counts it (after
mentions are written out), a stream that ends exactly at its stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.slack.mentions import WORD_JOINER, without_pings
from tests.e2e.slack_env import (
    GENERAL,
    SlackWorld,
    running_slack,
    slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_mentions import pings
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_streams import MARKDOWN_TEXT_LIMIT, STOPPED, STREAMING

__all__ = ["slack", "slack_env"]


@pytest.fixture
async def long_native(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    """Native streaming with a persona allowed replies near 12,000 characters."""
    config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming="native")
    config.write_text(config.read_text().replace("max_tokens: 256", "max_tokens: 4000"))
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


def _shown(world: SlackWorld, thread_ts: str) -> list[str]:
    """Each reply's text as a reader sees it (the invisible joiner in "@here" taken out)."""
    replies = world.replies(GENERAL, thread_ts)
    return [(reply.markdown_text or "").replace(WORD_JOINER, "") for reply in replies]


async def test_bare_mentions_near_the_limit_never_push_a_message_past_it(
    long_native: SlackWorld,
) -> None:
    # Each bare "@here" is shown one character longer (an invisible joiner keeps it from
    # pinging), so under 12,000 characters from the model can be over 12,000 at Slack. The
    # stream ends just before its stop, so the last words go by chat.update with the whole text.
    world = long_native
    said = "tell @here about it. " * 560
    assert len(said) < MARKDOWN_TEXT_LIMIT < len(said) + said.count("@here")
    last = asyncio.Event()
    world.openai.enqueue(Script(chunks=(said, "Done."), release_chunks=[last]))
    event = await world.mention("warn everyone, at length")
    streams = world.slack.streams
    await wait_until(lambda: "".join(_shown(world, event["ts"])).count("@here") == 560)
    world.slack.expire_stream(*streams.started[-1])  # five minutes on, as far as Slack cares
    last.set()
    replies = await world.settled(GENERAL, event["ts"], count=len(streams.started))
    assert all(len(reply.markdown_text or "") <= MARKDOWN_TEXT_LIMIT for reply in replies)
    assert " ".join(_shown(world, event["ts"])).split() == (said + "Done.").split()
    assert [streams.states[stream] for stream in streams.started[:-1]] == [STOPPED] * (
        len(streams.started) - 1
    )
    assert streams.states[streams.started[-1]] != STREAMING  # expired, never left open


def _count(world: SlackWorld, method: str) -> int:
    return len(world.slack.calls_to(method))


async def _last_words_held(world: SlackWorld, text: str) -> tuple[dict[str, str], asyncio.Event]:
    """A mention whose reply streams "One. Two." and holds " Three." until the event is set."""
    last = asyncio.Event()
    world.openai.enqueue(Script(chunks=("One. Two.", " Three."), release_chunks=[last]))
    event = await world.mention(text)
    await wait_until(lambda: _count(world, "chat.startStream") == 1)
    return event, last


@pytest.mark.parametrize(
    ("status", "error", "after"),
    [
        (500, None, True),  # stopped with the last words, but the answer was lost
        (503, None, False),  # nothing was done, and the answer was lost
        (429, None, False),  # rate limited: Retry-After, then tried again
    ],
    ids=["landed-answer-lost", "lost", "rate-limited"],
)
async def test_a_stop_that_fails_leaves_the_whole_reply_once_and_no_stream_open(
    slack: SlackWorld, status: int, error: str | None, after: bool
) -> None:
    event, last = await _last_words_held(slack, "count to three")
    retry_after = 0.0 if status == 429 else None
    slack.slack.fail_next(
        "chat.stopStream", status=status, error=error, after=after, retry_after=retry_after
    )
    last.set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "One. Two. Three."
    assert slack.slack.streams.states[(GENERAL, reply.ts)] != STREAMING
    assert _count(slack, "chat.postMessage") == 0
    history = await slack.runtime.store.recent_messages(slack.key(GENERAL, event["ts"]), 2)
    stored = history.messages[-1]
    assert (stored.role, stored.status, stored.content) == ("assistant", "complete", reply.text)


async def test_a_rate_limited_append_waits_and_sends_its_words_once(slack: SlackWorld) -> None:
    steps = [asyncio.Event(), asyncio.Event()]
    slack.openai.enqueue(Script(chunks=("One.", " Two.", " Three."), release_chunks=steps))
    event = await slack.mention("count to three")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    slack.slack.fail_next("chat.appendStream", status=429, retry_after=0)
    steps[0].set()
    # Refused once with Retry-After, then taken: the client's own retry, no chat.update.
    await wait_until(lambda: _count(slack, "chat.appendStream") == 2)
    steps[1].set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "One. Two. Three."
    assert _count(slack, "chat.update") == 0 and _count(slack, "chat.postMessage") == 0
    assert slack.slack.streams.shown == ["One.", "One. Two.", "One. Two. Three."]


async def test_a_model_failure_after_streamed_words_ends_the_stream_with_one_notice(
    slack: SlackWorld,
) -> None:
    last = asyncio.Event()
    script = Script(chunks=("Half an", " answer."), release_chunks=[last], stream_error="boom")
    slack.openai.enqueue(script)
    event = await slack.mention("fail half way")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    last.set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    text = reply.markdown_text or ""
    assert text.startswith("Half an answer.\n\n_:warning: ")
    assert text.count(":warning:") == 1
    assert slack.slack.streams.states[(GENERAL, reply.ts)] == STOPPED
    assert _count(slack, "chat.postMessage") == 0


async def test_a_start_whose_answer_was_lost_is_found_not_started_twice(slack: SlackWorld) -> None:
    slack.slack.fail_next("chat.startStream", status=500, after=True)
    event, last = await _last_words_held(slack, "count to three")
    last.set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "One. Two. Three."
    assert len(slack.slack.streams.started) == 1
    assert slack.slack.streams.states[(GENERAL, reply.ts)] != STREAMING


async def test_appends_rate_limited_past_the_clients_retries_end_whole_at_the_stop(
    slack: SlackWorld,
) -> None:
    steps = [asyncio.Event(), asyncio.Event()]
    slack.openai.enqueue(Script(chunks=("One.", " Two.", " Three."), release_chunks=steps))
    event = await slack.mention("count to three")
    await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    slack.slack.fail_next("chat.appendStream", status=429, retry_after=0, times=4)
    steps[0].set()
    # Once the append is under way the last words may come: the stop waits for it to end.
    await wait_until(lambda: _count(slack, "chat.appendStream") == 1)
    steps[1].set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.markdown_text == "One. Two. Three."
    assert _count(slack, "chat.appendStream") == 4  # one try, three retries, all refused
    assert slack.slack.streams.states[(GENERAL, reply.ts)] == STOPPED
    history = await slack.runtime.store.recent_messages(slack.key(GENERAL, event["ts"]), 2)
    assert history.messages[-1].status == "complete"


async def test_a_lost_start_is_never_taken_for_an_earlier_reply_with_the_same_words(
    slack: SlackWorld,
) -> None:
    slack.openai.enqueue(Script(chunks=("Sure.",)))
    first = await slack.mention("can you help?")
    (earlier,) = await slack.settled(GENERAL, first["ts"])
    last = asyncio.Event()
    slack.openai.enqueue(Script(chunks=("Sure.", " Here it is."), release_chunks=[last]))
    # The start's answer is lost and nothing was started: the reply looks for its stream
    # in the thread before it tries again, and finds only the earlier "Sure.".
    slack.slack.fail_next("chat.startStream", status=503)
    await slack.mention("and again?", thread_ts=first["ts"])
    await wait_until(lambda: _looked_up_after_a_start(slack), message="a lost start looked for")
    last.set()
    replies = await slack.settled(GENERAL, first["ts"], count=2)
    assert [reply.markdown_text for reply in replies] == ["Sure.", "Sure. Here it is."]
    assert replies[0].ts == earlier.ts
    assert _count(slack, "chat.update") == 0


def _looked_up_after_a_start(world: SlackWorld) -> bool:
    methods = [call.method for call in world.slack.calls]
    starts = [i for i, method in enumerate(methods) if method == "chat.startStream"]
    # The first start is the earlier reply's, the second the one whose answer was lost.
    return len(starts) >= 2 and "conversations.replies" in methods[starts[1] :]


@pytest.mark.parametrize(
    "chunks",
    [("<!chan", "nel>"), ("Tell @", "here"), ("Tell <@U0B", "OB> now"), ("  ", "\n\n")],
    ids=["split-mention", "split-bare-word", "split-user", "only-blanks"],
)
async def test_a_reply_of_a_mention_cut_across_pieces_pings_nobody_and_ends_whole(
    slack: SlackWorld, chunks: tuple[str, str]
) -> None:
    last = asyncio.Event()
    slack.openai.enqueue(Script(chunks=chunks, release_chunks=[last]))
    event = await slack.mention("ping them")
    if chunks[0].strip():
        await wait_until(lambda: _count(slack, "chat.startStream") == 1)
    last.set()
    (reply,) = await slack.settled(GENERAL, event["ts"])
    said = "".join(chunks).strip()
    expected = without_pings(said) if said else "_(no answer)_"
    assert reply.markdown_text == expected
    # Whatever a reader saw along the way pinged nobody, and no stream is left open.
    assert all(pings(shown) == set() for shown in slack.slack.streams.shown)
    assert pings(reply.text) == set()
    assert STREAMING not in slack.slack.streams.states.values()
