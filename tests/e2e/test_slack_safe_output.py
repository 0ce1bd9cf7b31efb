"""A model that writes Slack mentions notifies nobody: every post and edit Slack receives
has them as plain words, through the real slack-bolt and slack_sdk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.slack_env import (
    GENERAL,
    SlackWorld,
    running_slack,
    slack,
    slack_env,
    slack_long_replies,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_mentions import pings
from tests.fakes.slack_server import FakeSlack

__all__ = ["slack", "slack_env", "slack_long_replies"]

PINGING = (
    "Hey <!channel> ",
    "and <!here|here>, ",
    "<!everyone> too; ",
    "ask <@U0BOB> or <!subteam^S0ENG|@eng>, ",
    "@here. Docs: <https://example.com/guide|the guide>.",
)


def posted_texts(world: SlackWorld) -> list[str]:
    """Every text Slack showed of Parley's: posts, streamed edits and final edits, and a
    native stream's text after each start, append and stop (pieces are harmless alone; the
    text they add up to is what Slack parses)."""
    calls = world.slack.calls_to("chat.postMessage") + world.slack.calls_to("chat.update")
    texts = [str(call.params.get("markdown_text") or call.params.get("text")) for call in calls]
    return texts + world.slack.streams.shown


@pytest.mark.parametrize("streaming", ["native", "edits"])
async def test_a_streamed_reply_notifies_nobody_in_any_post_or_edit(
    streaming: str, slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming=streaming)
    async with running_slack(config, fake_slack, fake_openai) as slack:
        await _streamed_pings(slack)


async def _streamed_pings(slack: SlackWorld) -> None:
    # A mention cut between pieces too: "<!chan" + "nel>" must not add up to a ping.
    slack.openai.enqueue(Script(chunks=("Hi <!chan", "nel> ", *PINGING), delay_between_chunks=0.3))
    event = await slack.mention("greet everybody")
    (reply,) = await slack.settled(GENERAL, event["ts"])
    grew = slack.slack.calls_to("chat.appendStream") or slack.slack.calls_to("chat.update")
    assert grew  # streamed: shown early, grown as the model went on
    texts = posted_texts(slack)
    assert len(texts) >= 2
    assert [pings(text) for text in texts] == [set()] * len(texts)
    shown = (reply.markdown_text or "").replace("\u2060", "")
    assert shown == (
        "Hi @channel Hey @channel and @here, @everyone too; ask @U0BOB or @eng, @here. "
        "Docs: <https://example.com/guide|the guide>."
    )


async def test_a_long_reply_split_in_parts_notifies_nobody(slack_long_replies: SlackWorld) -> None:
    world = slack_long_replies
    line = "".join(PINGING) + "\n"
    world.openai.enqueue(Script(chunks=(line * 100,)))  # past one message in either mode
    event = await world.mention("greet everybody, at length")
    replies = await world.settled(GENERAL, event["ts"], count=2)
    assert len(replies) >= 2
    texts = posted_texts(world)
    assert [pings(text) for text in texts] == [set()] * len(texts)
    # The history keeps the model's own words: the next turn sees what it wrote.
    history = await world.runtime.store.recent_messages(world.key(GENERAL, event["ts"]), 5)
    assert "<!channel>" in history.messages[-1].content
