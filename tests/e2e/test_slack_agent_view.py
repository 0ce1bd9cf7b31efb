"""Slack's agent messaging experience (manifest `agent_view`): the Messages tab from its
opening to a reply, through the real bolt app against the fake Slack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.slack_env import (
    ALICE,
    BOB,
    DM,
    PIRATES,
    SlackWorld,
    running_slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, echo_last_user
from tests.fakes.slack_server import FakeSlack, wait_until

__all__ = ["slack_env"]

PROMPT_WITH_VIEW = "You help {user_name}, who is looking at {viewing_channel}."


@pytest.fixture
async def agent(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    text = config.read_text()
    start = text.index("      You are {bot_name}")
    end = text.index("\n", start)
    config.write_text(text[:start] + f"      {PROMPT_WITH_VIEW}" + text[end:])
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


def opened(user: str = ALICE, tab: str = "messages") -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": DM, "tab": tab}


def viewing(channel: str, user: str = ALICE) -> dict[str, Any]:
    entities = [{"type": "slack#/types/channel_id", "value": channel, "team_id": "T0FAKE"}]
    return {"type": "app_context_changed", "user": user, "context": {"entities": entities}}


async def test_a_messages_tab_conversation_from_opening_to_reply(agent: SlackWorld) -> None:
    fake = agent.slack
    agent.openai.default = echo_last_user
    await fake.send_event(opened())
    await wait_until(lambda: DM in fake.workspace.suggested_prompts, message="prompts offered")
    assert fake.workspace.suggested_prompts[DM] == [
        {"title": "Summarize", "message": "Summarize this thread for me"}
    ]
    (offer,) = fake.calls_to("assistant.threads.setSuggestedPrompts")
    assert "thread_ts" not in offer.params  # Slack ignores thread prompts in the agent view
    await fake.send_event(viewing(PIRATES))
    await agent.caught_up()  # the context change was handled before this marker ended

    first = await agent.say("what is going on here?", channel=DM)
    (reply,) = await agent.settled(DM, first["ts"])
    assert reply.thread_ts == first["ts"]  # answered in the thread the message starts
    assert reply.markdown_text == "echo: [Alice] what is going on here?"
    assert agent.sent()[0]["content"] == "You help Alice, who is looking at #pirates."
    status = fake.calls_to("assistant.threads.setStatus")
    assert [(c.params["thread_ts"], c.params["status"]) for c in status] == [
        (first["ts"], "is thinking…")
    ]
    posts = [c.params.get("markdown_text") for c in fake.calls_to("chat.postMessage")]
    assert "_Thinking…_" not in posts  # the status is the sign of life

    await agent.say("and in short?", channel=DM, thread_ts=first["ts"])
    await agent.settled(DM, first["ts"], count=2)
    assert agent.sent_users() == ["[Alice] what is going on here?", "[Alice] and in short?"]

    second = await agent.say("a new question", channel=DM)
    await agent.settled(DM, second["ts"])
    assert agent.sent_users() == ["[Alice] a new question"]  # a new thread: a new conversation


async def test_prompts_once_per_dm_and_only_for_the_messages_tab(agent: SlackWorld) -> None:
    fake = agent.slack
    await fake.send_event(opened(tab="home"))
    await fake.send_event(opened())
    await fake.send_event(opened())
    await agent.caught_up()
    assert len(fake.calls_to("assistant.threads.setSuggestedPrompts")) == 1


async def test_each_user_has_their_own_view_and_a_canvas_clears_it(agent: SlackWorld) -> None:
    agent.openai.default = echo_last_user
    await agent.slack.send_event(viewing(PIRATES))
    await agent.slack.send_event(viewing(PIRATES, user=BOB))
    canvas = {"type": "slack#/types/canvas_id", "value": "F0CANVAS", "team_id": "T0FAKE"}
    await agent.slack.send_event(
        {"type": "app_context_changed", "user": ALICE, "context": {"entities": [canvas]}}
    )
    await agent.caught_up()
    alice = await agent.say("hi", channel=DM)
    await agent.settled(DM, alice["ts"])
    assert agent.sent()[0]["content"] == "You help Alice, who is looking at ."


async def test_a_flood_of_tab_openings_offers_the_prompts_once(agent: SlackWorld) -> None:
    # Bolt runs each event in its own task: twenty openings arrive before the first offer
    # is answered, and Slack's rate limit is spent on one call, not twenty.
    fake = agent.slack
    await asyncio.gather(*(fake.send_event(opened()) for _ in range(20)))
    await wait_until(lambda: DM in fake.workspace.suggested_prompts, message="prompts offered")
    await agent.caught_up()
    assert len(fake.calls_to("assistant.threads.setSuggestedPrompts")) == 1


async def test_prompts_slack_refused_are_offered_at_the_next_opening(agent: SlackWorld) -> None:
    fake = agent.slack
    fake.fail_next("assistant.threads.setSuggestedPrompts", error="internal_error")
    await fake.send_event(opened())
    await wait_until(lambda: len(fake.calls_to("assistant.threads.setSuggestedPrompts")) == 1)
    await agent.caught_up()
    assert DM not in fake.workspace.suggested_prompts
    await fake.send_event(opened())
    await wait_until(lambda: DM in fake.workspace.suggested_prompts, message="prompts offered")
    assert len(fake.calls_to("assistant.threads.setSuggestedPrompts")) == 2


async def test_a_dm_thread_goes_on_after_a_restart_with_its_history(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    async with running_slack(config, fake_slack, fake_openai) as before:
        first = await before.say("remember the word teal", channel=DM)
        await before.settled(DM, first["ts"])
    async with running_slack(config, fake_slack, fake_openai) as after:
        # A restarted world counts its ts from the start again: this one is later.
        later = "1700000900.000100"
        await after.say("which word?", channel=DM, thread_ts=first["ts"], ts=later)
        replies = await after.settled(DM, first["ts"], count=2)
        assert [reply.thread_ts for reply in replies] == [first["ts"]] * 2
        assert replies[-1].markdown_text == "echo: [Alice] which word?"
        # The thread's first exchange reached the model once, from the store, not twice.
        users = after.sent_users()
        assert users == ["[Alice] remember the word teal", "[Alice] which word?"]
