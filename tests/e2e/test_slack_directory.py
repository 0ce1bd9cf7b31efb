"""Slack names: looked up once per id, even when many messages ask at the same moment."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.directory import Directory
from tests.e2e.slack_env import ALICE, GENERAL, slack_env
from tests.fakes.slack_server import FakeSlack, wait_until

__all__ = ["slack_env"]


@pytest.mark.usefixtures("slack_env")
async def test_a_burst_asking_for_one_name_makes_one_call(fake_slack: FakeSlack) -> None:
    directory = Directory(AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url))
    users = await asyncio.gather(*(directory.user_name(ALICE) for _ in range(50)))
    channels = await asyncio.gather(*(directory.channel_name(GENERAL) for _ in range(50)))
    assert set(users) == {"Alice"} and set(channels) == {"#general"}
    assert len(fake_slack.calls_to("users.info")) == 1
    assert len(fake_slack.calls_to("conversations.info")) == 1


@pytest.mark.usefixtures("slack_env")
async def test_one_asker_cancelled_leaves_the_others_their_answer(fake_slack: FakeSlack) -> None:
    directory = Directory(AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url))
    first = asyncio.create_task(directory.user_name(ALICE))
    second = asyncio.create_task(directory.user_name(ALICE))
    await wait_until(lambda: bool(fake_slack.calls_to("users.info")))  # the one call is out
    first.cancel()
    assert await second == "Alice"
    assert len(fake_slack.calls_to("users.info")) == 1
