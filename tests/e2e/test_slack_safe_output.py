"""A model that writes Slack mentions notifies nobody: every post and edit Slack receives
has them as plain words, through the real slack-bolt and slack_sdk."""

from __future__ import annotations

from tests.e2e.slack_env import GENERAL, SlackWorld, slack, slack_env, slack_long_replies
from tests.fakes.openai_server import Script
from tests.fakes.slack_mentions import pings

__all__ = ["slack", "slack_env", "slack_long_replies"]

PINGING = (
    "Hey <!channel> ",
    "and <!here|here>, ",
    "<!everyone> too; ",
    "ask <@U0BOB> or <!subteam^S0ENG|@eng>, ",
    "@here. Docs: <https://example.com/guide|the guide>.",
)


def posted_texts(world: SlackWorld) -> list[str]:
    """Every text Parley sent Slack: posts, streamed edits and final edits."""
    calls = world.slack.calls_to("chat.postMessage") + world.slack.calls_to("chat.update")
    return [str(call.params.get("markdown_text") or call.params.get("text")) for call in calls]


async def test_a_streamed_reply_notifies_nobody_in_any_post_or_edit(slack: SlackWorld) -> None:
    slack.openai.enqueue(Script(chunks=PINGING, delay_between_chunks=0.3))
    event = await slack.mention("greet everybody")
    (reply,) = await slack.settled(GENERAL, event["ts"])
    assert reply.edits >= 1  # streamed: posted early, edited as it grew
    texts = posted_texts(slack)
    assert len(texts) >= 2
    assert [pings(text) for text in texts] == [set()] * len(texts)
    shown = (reply.markdown_text or "").replace("\u2060", "")
    assert shown == (
        "Hey @channel and @here, @everyone too; ask @U0BOB or @eng, @here. "
        "Docs: <https://example.com/guide|the guide>."
    )


async def test_a_long_reply_split_in_parts_notifies_nobody(slack_long_replies: SlackWorld) -> None:
    world = slack_long_replies
    line = "".join(PINGING) + "\n"
    world.openai.enqueue(Script(chunks=(line * 60,)))  # past one message's 3,900 characters
    event = await world.mention("greet everybody, at length")
    replies = await world.settled(GENERAL, event["ts"], count=2)
    assert len(replies) >= 2
    texts = posted_texts(world)
    assert [pings(text) for text in texts] == [set()] * len(texts)
    # The history keeps the model's own words: the next turn sees what it wrote.
    history = await world.runtime.store.recent_messages(world.key(GENERAL, event["ts"]), 5)
    assert "<!channel>" in history.messages[-1].content
