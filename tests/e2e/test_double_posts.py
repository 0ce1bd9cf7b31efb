"""A post that reached the platform but whose answer was lost is not posted again."""

from __future__ import annotations

import pytest

from tests.e2e.slack_env import GENERAL, SlackWorld, slack, slack_env
from tests.fakes.openai_server import Script
from tests.fakes.slack_server import wait_until

__all__ = ["slack", "slack_env"]

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
