"""`parley run` killed with SIGKILL while a tool runs or an approval waits, then started again:
the call never runs twice, the thread is told, and the next turn's model knows."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bots.slack.approvals import APPROVE_ACTION
from core.tools.exchange import Exchange
from tests.e2e.processes import parley_run
from tests.e2e.slack_env import ALICE, GENERAL, slack_env, write_slack_config
from tests.e2e.tools_env import with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import asking_for_tools
from tests.fakes.slack_approvals import button_click
from tests.fakes.slack_server import FakeMessage, FakeSlack, wait_until

__all__ = ["slack_env"]

NO_LONGER_WAITING = "This request is no longer waiting."


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


def config_with_tools(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> Path:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    with_tools(config, files)
    # `slow` is not annotated: it would ask. Here it runs at once, so the kill lands mid-call.
    config.write_text(
        config.read_text().replace("  docs:\n", "  docs:\n    approvals: {slow: auto}\n")
    )
    return config


def mention(fake_slack: FakeSlack, text: str, ts: str, thread: str | None = None) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{fake_slack.bot_user_id}> {text}",
        "ts": ts,
        "event_ts": ts,
        "channel": GENERAL,
        "channel_type": "channel",
        "team": fake_slack.team_id,
    }
    return {**event, "thread_ts": thread} if thread else event


def reply_row(database: Path) -> tuple[str, str, Exchange]:
    """The integrity verdict, and the first reply's status and tool exchange."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
        status, tools = conn.execute(
            "SELECT status, tools FROM messages WHERE role = 'assistant' ORDER BY id LIMIT 1"
        ).fetchone()
    return str(verdict), str(status), Exchange.from_json(str(tools))


def notes(fake_slack: FakeSlack, thread: str, words: str) -> list[FakeMessage]:
    return [m for m in fake_slack.thread(GENERAL, thread) if words in (m.markdown_text or "")]


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def test_a_call_running_when_parley_is_killed_is_never_run_again(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = config_with_tools(tmp_path, fake_slack, fake_openai, files)
    database = tmp_path / "data" / "parley.db"
    fake_openai.enqueue(asking_for_tools(("docs__slow", {"seconds": 600})))
    event = mention(fake_slack, "rebuild the index", "1700000100.000100")
    async with parley_run(config) as parley:
        await fake_slack.wait_connected()
        await fake_slack.send_event(event, event_id="Ev0TOOLKILL1")
        server = await files.slow_started()
        parley.child.send_signal(signal.SIGKILL)
        await parley.exit_code()
    kill_quietly(server)  # the orphaned child of the killed run, if it outlived it
    verdict, _, exchange = reply_row(database)
    assert verdict == "ok"
    assert [(c.name, c.state) for c in exchange.rounds[0].calls] == [("docs__slow", "running")]

    fake_openai.enqueue(Script(chunks=("It did not finish; shall I try again?",)))
    async with parley_run(config):
        note = "`docs.slow` had started and was not run again"
        await wait_until(lambda: len(notes(fake_slack, event["ts"], note)) == 1)
        # Slack delivers the mention again: a turn that called a tool is not run again.
        await fake_slack.send_event(event, event_id="Ev0TOOLKILL1", retry_attempt=1)
        follow_up = mention(fake_slack, "did it work?", "1700000200.000100", event["ts"])
        await fake_slack.send_event(follow_up, event_id="Ev0TOOLKILL2")
        await wait_until(
            lambda: bool(notes(fake_slack, event["ts"], "It did not finish")), message="no answer"
        )
    assert [call["tool"] for call in files.calls()] == ["slow"]  # once, before the kill
    assert len(fake_openai.requests) == 2  # the first turn's, and the follow-up's
    messages = fake_openai.requests[-1]["messages"]
    assert isinstance(messages, list)
    told = [m for m in messages if m["role"] == "tool"]
    assert len(told) == 1 and "not run again" in told[0]["content"]
    verdict, status, exchange = reply_row(database)
    assert (verdict, status) == ("ok", "failed")
    assert exchange.rounds[0].calls[0].state == "interrupted"
    assert len(notes(fake_slack, event["ts"], "had started")) == 1


async def test_an_approval_waiting_when_parley_is_killed_is_cancelled_and_runs_nothing(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = config_with_tools(tmp_path, fake_slack, fake_openai, files)
    database = tmp_path / "data" / "parley.db"
    fake_openai.enqueue(asking_for_tools(("docs__delete_page", {"page": "faq"})))
    event = mention(fake_slack, "delete the faq", "1700000100.000100")

    def requests() -> list[FakeMessage]:
        return [
            m
            for m in fake_slack.thread(GENERAL, event["ts"])
            if any(b.get("type") == "actions" for b in m.blocks or ())
        ]

    async with parley_run(config) as parley:
        await fake_slack.wait_connected()
        await fake_slack.send_event(event, event_id="Ev0TOOLKILL3")
        await wait_until(lambda: bool(requests()), message="no approval request")
        parley.child.send_signal(signal.SIGKILL)
        await parley.exit_code()
    (request,) = requests()

    async with parley_run(config):
        note = "the approval for `docs.delete_page` was cancelled"
        await wait_until(lambda: len(notes(fake_slack, event["ts"], note)) == 1)
        await fake_slack.send_interactive(
            button_click(fake_slack.identity, request, ALICE, APPROVE_ACTION)
        )
        await wait_until(
            lambda: fake_slack.ephemerals.to(ALICE) == [NO_LONGER_WAITING],
            message="no refusal for the old button",
        )
    assert files.calls() == []
    verdict, status, exchange = reply_row(database)
    assert (verdict, status) == ("ok", "failed")
    assert [(c.name, c.state) for c in exchange.rounds[0].calls] == [
        ("docs__delete_page", "denied")
    ]
