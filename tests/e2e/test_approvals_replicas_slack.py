"""Approvals with two Parley replicas on Slack: real slack-bolt apps on two Socket Mode
connections of one app against the fake Slack, one PostgreSQL. The mention reaches replica
a, whose turn asks; the clicks reach replica b, as Slack hands interactions to any
connection. b relays them, a decides, b tells the clicker of a refusal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime
from bots.slack.approvals import APPROVE_ACTION
from bots.slack.bot import SlackBot
from tests.e2e.replicas import replicas
from tests.e2e.slack_env import ALICE, BOB, GENERAL, slack_env, write_slack_config
from tests.e2e.tools_env import calls_made, delete_then_answer, with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_approvals import button_click
from tests.fakes.slack_server import FakeMessage, FakeSlack, wait_until

__all__ = ["slack_env"]

# Connections in the order the replicas opened them: the fake routes by this index.
ON_A, ON_B = 0, 1


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


@contextlib.asynccontextmanager
async def serving(runtime: Runtime, slack: FakeSlack, connections: int) -> AsyncIterator[None]:
    """The replica's Slack bot runs until the block ends; entered once its connection (the
    `connections`th of the app) is open."""
    bot = SlackBot(runtime.config.current.bot("team"), runtime.engine)
    task = asyncio.create_task(bot.run())
    try:
        await slack.wait_connected(connections)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def two_replicas(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[None]:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming="edits")
    text = config.read_text()
    path_line = next(line for line in text.splitlines() if line.startswith("  path: "))
    config.write_text(text.replace(path_line, f"  url: {postgres_url}"))
    with_tools(config, files)
    async with (
        replicas(config, ("a", "b"), monkeypatch) as (a, b),
        serving(a, fake_slack, 1),
        serving(b, fake_slack, 2),
    ):
        yield


def request_in(slack: FakeSlack, thread_ts: str) -> FakeMessage | None:
    """The approval request (the bot's message with buttons) in the thread, if posted."""
    for message in slack.thread(GENERAL, thread_ts):
        if message.user == slack.bot_user_id and any(
            block.get("type") == "actions" for block in message.blocks or ()
        ):
            return message
    return None


def context_of(slack: FakeSlack, message: FakeMessage) -> str:
    shown = slack.workspace.find(GENERAL, message.ts)
    assert shown is not None
    contexts = [b for b in shown.blocks or () if b.get("type") == "context"]
    return " ".join(e["text"] for b in contexts for e in b["elements"])


async def test_a_click_on_the_other_replica_is_decided_by_the_one_that_asked(
    two_replicas: None,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="core.tools")
    delete_then_answer(fake_openai)
    ts = fake_slack.next_ts()
    mention = {
        "type": "app_mention", "user": ALICE, "text": f"<@{fake_slack.bot_user_id}> delete faq",
        "ts": ts, "event_ts": ts, "channel": GENERAL, "channel_type": "channel",
        "team": fake_slack.team_id,
    }  # fmt: skip
    await fake_slack.send_event(mention, to=ON_A)
    await wait_until(lambda: request_in(fake_slack, ts) is not None, message="a asks")
    request = request_in(fake_slack, ts)
    assert request is not None

    stranger = button_click(fake_slack.identity, request, BOB, APPROVE_ACTION)
    await fake_slack.send_interactive(stranger, to=ON_B)
    refusal = "Only <@U0ALICE> or an admin can approve this."
    await wait_until(lambda: fake_slack.ephemerals.to(BOB) == [refusal], message="b refuses")
    assert files.calls() == []

    asker = button_click(fake_slack.identity, request, ALICE, APPROVE_ACTION)
    await fake_slack.send_interactive(asker, to=ON_B)
    await wait_until(
        lambda: context_of(fake_slack, request) == "✅ Approved by Alice", message="approved"
    )
    assert await calls_made(files, 1) == ["delete_page"]

    def finished() -> bool:
        thread = fake_slack.thread(GENERAL, ts)
        replies = [m for m in thread if m.user == fake_slack.bot_user_id]
        return any((m.markdown_text or m.text).endswith("Done.") for m in replies)

    await wait_until(finished, message="the turn on a finished")
    relayed = [r.getMessage() for r in caplog.records if "(relayed)" in r.getMessage()]
    assert [line.split(": ")[-1] for line in relayed] == [
        "not_allowed by U0BOB",
        "approved by U0ALICE",
    ]
    assert fake_slack.ephemerals.to(ALICE) == []  # a decision is acked quietly
    assert [c["tool"] for c in files.calls()] == ["delete_page"]
