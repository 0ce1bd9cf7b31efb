"""`parley run` killed (or stopped) mid-tool and mid-approval, then started again on the same
file: the thread hears what became of the call, the call never runs twice, the next turn
tells the model it was interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from bots.slack.approvals import APPROVE_ACTION
from core.errors import ShutDown
from core.tools.exchange import INTERRUPTED_RESULT, RESTARTED_WAITING_RESULT, Exchange
from core.turn.rows import INTERRUPTED, SHUT_DOWN
from tests.e2e.processes import Parley, parley_run
from tests.e2e.slack_env import ALICE, GENERAL, mention, slack_env, write_slack_config
from tests.e2e.tools_env import with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import asking_for_tools
from tests.fakes.slack_approvals import button_click
from tests.fakes.slack_server import FakeMessage, FakeSlack, wait_until

__all__ = ["slack_env"]

QUESTION_TS = "1700000100.000100"
EVENT_ID = "Ev0TOOLKILL1"


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


def tools_config(
    tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, files: ToolsServerFiles
) -> Path:
    """The Slack config with the `docs` tools, `slow` auto-approved and a short shutdown."""
    config = write_slack_config(tmp_path, slack, openai)
    with_tools(config, files)
    text = config.read_text()
    assert text.count("limits:\n") == 1
    text = text.replace(
        "limits:\n", "    approvals: {slow: auto}\nlimits:\n  shutdown_seconds: 1\n"
    )
    config.write_text(text)
    return config


def database_rows(path: Path) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """The integrity check's verdict and every message as (role, status, content, error,
    tools)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
        rows = conn.execute("SELECT role, status, content, error, tools FROM messages ORDER BY id")
        return str(verdict), [tuple(row) for row in rows]


def call_states(tools: str) -> list[tuple[str, str]]:
    return [(c.name, c.state) for r in Exchange.from_json(tools).rounds for c in r.calls]


def thread_texts(slack: FakeSlack) -> list[str]:
    return [m.markdown_text or m.text or "" for m in slack.thread(GENERAL, QUESTION_TS)]


def approval_requests(slack: FakeSlack) -> list[FakeMessage]:
    """The thread's messages that still have buttons."""
    thread = slack.thread(GENERAL, QUESTION_TS)
    return [m for m in thread if any(b.get("type") == "actions" for b in m.blocks or ())]


def said_in_thread(slack: FakeSlack, words: str) -> list[str]:
    return [text for text in thread_texts(slack) if words in text]


def children_of(pid: int) -> set[int]:
    """The processes `pid` started (from /proc): the MCP server a Parley runs over stdio."""
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found |= {int(child) for child in children.read_text().split()}
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def killed(parley: Parley) -> set[int]:
    """SIGKILL: returns the MCP servers the killed Parley had started."""
    servers = children_of(parley.child.pid)
    parley.child.send_signal(signal.SIGKILL)
    assert await parley.exit_code() == -signal.SIGKILL
    return servers


async def ended_with_parley(servers: set[int]) -> None:
    """A stdio server ends once its stdin closes, even mid-call; killed here if it did not
    (the test leaves no process behind either way)."""
    assert servers, "Parley had started its MCP server"
    try:
        await wait_until(
            lambda: not any(alive(pid) for pid in servers),
            message="an MCP server outlived the killed Parley",
        )
    finally:
        for pid in servers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def stopped_without_orphans(parley: Parley) -> None:
    """SIGTERM: a clean exit that takes the MCP servers it started with it."""
    servers = children_of(parley.child.pid)
    parley.child.send_signal(signal.SIGTERM)
    assert await parley.exit_code() == 0
    await wait_until(
        lambda: not any(alive(pid) for pid in servers), message="an MCP server outlived Parley"
    )


def sent_for_tools(openai: FakeOpenAI) -> tuple[list[str], list[str]]:
    """The tool calls and tool results the last request to the model carried."""
    messages = openai.requests[-1]["messages"]
    assert isinstance(messages, list)
    asked = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or ()]
    results = [str(m["content"]) for m in messages if m.get("role") == "tool"]
    return asked, results


async def ask_again_in_thread(slack: FakeSlack, openai: FakeOpenAI, answers: int) -> None:
    """Alice asks once more in the thread; returns once the answer shows."""
    openai.enqueue(Script(chunks=("Sorry about that.",)))
    await slack.send_event(mention(slack, "well?", "1700000300.000100", QUESTION_TS))
    await wait_until(
        lambda: len(said_in_thread(slack, "Sorry about that.")) == answers,
        message="the next message was not answered",
    )


async def test_a_kill_while_a_tool_runs_leaves_it_interrupted_and_never_run_again(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = tools_config(tmp_path, fake_slack, fake_openai, files)
    database = tmp_path / "data" / "parley.db"
    fake_openai.enqueue(asking_for_tools(("docs__slow", {"seconds": 600})))
    event = mention(fake_slack, "take your time", QUESTION_TS)

    async with parley_run(config) as parley:
        await fake_slack.wait_connected()
        await fake_slack.send_event(event, event_id=EVENT_ID)
        server = await files.slow_started()
        servers = await killed(parley)
    assert server in servers
    await ended_with_parley(servers)
    assert len(files.calls()) == 1

    async with parley_run(config) as parley:
        note = "`docs.slow` had started and was not run again"
        await wait_until(lambda: bool(said_in_thread(fake_slack, note)), message="no restart note")
        verdict, rows = database_rows(database)
        assert verdict == "ok"
        assert [row[:2] for row in rows] == [("user", "complete"), ("assistant", "failed")]
        assert rows[1][3] == INTERRUPTED
        assert call_states(rows[1][4]) == [("docs__slow", "interrupted")]

        # Slack redelivers the question: not answered (a retry would be asked of the model
        # before the next message, which waits behind it in the thread's line).
        await fake_slack.send_event(
            event, event_id=EVENT_ID, retry_attempt=1, retry_reason="timeout"
        )
        await ask_again_in_thread(fake_slack, fake_openai, answers=1)
        assert len(fake_openai.requests) == 2
        asked, results = sent_for_tools(fake_openai)
        assert asked == ["docs__slow"]
        assert results == [INTERRUPTED_RESULT]
        await stopped_without_orphans(parley)
    assert len(files.calls()) == 1
    assert len(said_in_thread(fake_slack, note)) == 1
    assert database_rows(database)[0] == "ok"


async def approval_asked(fake_slack: FakeSlack) -> FakeMessage:
    """Asks to delete the faq page; the request with buttons, once it is in the thread."""
    await fake_slack.wait_connected()
    await fake_slack.send_event(mention(fake_slack, "delete the faq", QUESTION_TS))
    await wait_until(lambda: bool(approval_requests(fake_slack)), message="no approval request")
    (request,) = approval_requests(fake_slack)
    return request


async def test_a_kill_while_an_approval_waits_cancels_it(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = tools_config(tmp_path, fake_slack, fake_openai, files)
    database = tmp_path / "data" / "parley.db"
    fake_openai.enqueue(asking_for_tools(("docs__delete_page", {"page": "faq"})))

    async with parley_run(config) as parley:
        request = await approval_asked(fake_slack)
        servers = await killed(parley)
    await ended_with_parley(servers)

    async with parley_run(config) as parley:
        note = "the approval for `docs.delete_page` was cancelled"
        await wait_until(lambda: bool(said_in_thread(fake_slack, note)), message="no restart note")
        click = button_click(fake_slack.identity, request, ALICE, APPROVE_ACTION)
        await fake_slack.send_interactive(click)
        no_longer = "This request is no longer waiting."
        await wait_until(
            lambda: fake_slack.ephemerals.to(ALICE) == [no_longer], message="no refusal"
        )
        await stopped_without_orphans(parley)
    assert files.calls() == []
    verdict, rows = database_rows(database)
    assert verdict == "ok"
    assert call_states(rows[1][4]) == [("docs__delete_page", "denied")]
    (round_,) = Exchange.from_json(rows[1][4]).rounds
    assert round_.calls[0].result == RESTARTED_WAITING_RESULT


async def test_a_stop_while_a_tool_runs_cuts_the_reply_and_records_the_call(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = tools_config(tmp_path, fake_slack, fake_openai, files)
    database = tmp_path / "data" / "parley.db"
    fake_openai.enqueue(asking_for_tools(("docs__slow", {"seconds": 600})))

    async with parley_run(config) as parley:
        await fake_slack.wait_connected()
        await fake_slack.send_event(mention(fake_slack, "take your time", QUESTION_TS))
        await files.slow_started()
        await stopped_without_orphans(parley)
    cut = ShutDown.user_message
    assert len(said_in_thread(fake_slack, cut)) == 1, thread_texts(fake_slack)
    verdict, rows = database_rows(database)
    assert verdict == "ok"
    assert rows[1][1:4] == ("failed", "", SHUT_DOWN)
    assert call_states(rows[1][4]) == [("docs__slow", "interrupted")]
    shown = len(thread_texts(fake_slack))

    async with parley_run(config) as parley:
        await fake_slack.wait_connected()
        await ask_again_in_thread(fake_slack, fake_openai, answers=1)
        asked, results = sent_for_tools(fake_openai)
        assert asked == ["docs__slow"]
        assert results == [INTERRUPTED_RESULT]
        await stopped_without_orphans(parley)
    # Only the question and the answer came since: no restart note for a settled row.
    assert len(thread_texts(fake_slack)) == shown + 2
    assert len(files.calls()) == 1


async def test_a_stop_while_an_approval_waits_denies_the_call_and_closes_the_request(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = tools_config(tmp_path, fake_slack, fake_openai, files)
    database = tmp_path / "data" / "parley.db"
    fake_openai.enqueue(asking_for_tools(("docs__delete_page", {"page": "faq"})))

    async with parley_run(config) as parley:
        request = await approval_asked(fake_slack)
        await stopped_without_orphans(parley)
    # A clean stop closes the request (no buttons left to click) before the cut notice.
    assert approval_requests(fake_slack) == []
    closed = fake_slack.workspace.find(GENERAL, request.ts)
    assert closed is not None and "Cancelled" in (closed.text or "")
    assert len(said_in_thread(fake_slack, ShutDown.user_message)) == 1
    verdict, rows = database_rows(database)
    assert verdict == "ok"
    assert rows[1][1:4] == ("failed", "", SHUT_DOWN)
    assert call_states(rows[1][4]) == [("docs__delete_page", "denied")]
    assert files.calls() == []
