"""A post that reached the platform but whose answer was lost is not posted again."""

from __future__ import annotations

import pytest

from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import DM, GENERAL, SlackWorld, slack, slack_assistant_pane, slack_env
from tests.fakes.openai_server import Script
from tests.fakes.slack_server import wait_until

__all__ = ["discord_env", "discord_world", "slack", "slack_assistant_pane", "slack_env"]

REPLY = "Rain before seven, fine by eleven."


@pytest.mark.parametrize(("status", "drop"), [(503, False), (500, False), (200, True)])
async def test_a_slack_post_whose_answer_is_lost_shows_once(
    slack: SlackWorld, status: int, drop: bool
) -> None:
    slack.openai.enqueue(Script(chunks=(REPLY,)))
    slack.slack.fail_next("chat.postMessage", status=status, drop=drop, after=True)
    event = await slack.mention("weather tomorrow?")
    thread = event["ts"]

    await wait_until(
        lambda: [r.markdown_text for r in slack.replies(GENERAL, thread)] == [REPLY],
        message="the thread shows the reply",
    )
    await slack.settled(GENERAL, thread)  # the turn ended: nothing more will come
    assert [r.markdown_text for r in slack.replies(GENERAL, thread)] == [REPLY]


@pytest.mark.parametrize(("status", "drop"), [(503, False), (200, True)])
async def test_a_slack_dm_post_whose_answer_is_lost_shows_once(
    slack_assistant_pane: SlackWorld, status: int, drop: bool
) -> None:
    slack = slack_assistant_pane  # a DM answered at its top level
    slack.openai.enqueue(Script(chunks=(REPLY,)))
    slack.slack.fail_next("chat.postMessage", status=status, drop=drop, after=True)
    await slack.say("weather tomorrow?", channel=DM)

    await wait_until(
        lambda: [m.markdown_text for m in slack.slack.posted(DM)] == [REPLY],
        message="the DM shows the reply",
    )
    await slack.turns.ended(1, slack.key(DM, "dm"))  # nothing more will come
    assert [m.markdown_text for m in slack.slack.posted(DM)] == [REPLY]
    assert len(slack.slack.calls_to("conversations.history")) == 1, "it looked before posting"


# 500 and 502 discord.py retries itself, 503 and a dropped connection the reply's final try.
@pytest.mark.parametrize(("status", "drop"), [(503, False), (500, False), (200, True)])
async def test_a_discord_post_whose_answer_is_lost_shows_once(
    discord_world: DiscordWorld, status: int, drop: bool
) -> None:
    world, fake = discord_world, discord_world.discord
    event = fake.message_create(
        fake.channel_id,
        fake.user_id,
        f"<@{fake.bot_user_id}> weather tomorrow?",
        mentions=[fake.bot_user_id],
    )
    thread = str(event["id"])
    world.openai.enqueue(Script(chunks=(REPLY,)))
    fake.fail_next("POST", f"/channels/{thread}/messages", status=status, drop=drop, after=True)
    await fake.dispatch("MESSAGE_CREATE", event)

    await wait_until(
        lambda: [m.content for m in fake.posted(thread)] == [REPLY],
        message="the thread shows the reply",
    )
    await world.settled(thread)  # the turn ended: nothing more will come
    assert [m.content for m in fake.posted(thread)] == [REPLY]
    calls = fake.calls_to("POST", f"/channels/{thread}/messages")
    assert len(calls) >= 2, f"it was tried again: {calls}"


async def test_a_slack_post_is_not_tried_again_when_its_fate_cannot_be_looked_up(
    slack: SlackWorld,
) -> None:
    slack.openai.enqueue(Script(chunks=(REPLY,)))
    slack.slack.fail_next("chat.postMessage", drop=True, after=True)
    slack.slack.fail_next("conversations.replies", status=503, times=3)  # every try of a look
    event = await slack.mention("weather tomorrow?")
    thread = event["ts"]

    await slack.turns.ended(1, slack.key(GENERAL, thread))
    shown = [r.markdown_text for r in slack.replies(GENERAL, thread)]
    assert len(shown) == 1, shown
