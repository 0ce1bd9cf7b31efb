"""Slack native streaming at its edges: the 12,000-character limit as Slack counts it (after
mentions are written out), a stream that ends exactly at its stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.slack.mentions import WORD_JOINER
from tests.e2e.slack_env import (
    GENERAL,
    SlackWorld,
    running_slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_streams import MARKDOWN_TEXT_LIMIT, STOPPED, STREAMING

__all__ = ["slack_env"]


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
