"""The tool loop under attack from users and operators (budgets, deadlines, resets, servers
that die, moderation), through `Engine.handle` against the fake OpenAI and the test MCP server."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.errors import (
    BudgetExhausted,
    ContentFlagged,
    ReplyTimedOut,
)
from tests.e2e.test_engine import said, turn
from tests.e2e.tools_env import HELPER_MODEL, delete_then_answer, with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import FakeCall, asking_for_tools
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import wait_until

SEARCH: FakeCall = ("docs__search", {"query": "setup"})


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


@pytest.fixture
async def budgeted_runtime(config_path: Path, files: ToolsServerFiles) -> AsyncIterator[Runtime]:
    with_tools(config_path, files)
    # One round of the fake's usage (10 prompt + 2 completion tokens) spends it all.
    budget = "budgets:\n  - {per: user, tokens: 12}\n"
    config_path.write_text(config_path.read_text() + budget)
    async with open_runtime(config_path) as runtime:
        yield runtime


async def test_a_budget_spent_by_a_round_stops_the_turn_and_each_round_is_counted_once(
    budgeted_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.enqueue(asking_for_tools(SEARCH, text=("Let me look.",)))
    sink = await turn(budgeted_runtime, said("look it up"))
    assert isinstance(sink.error, BudgetExhausted), sink.events
    assert sink.text == "Let me look."
    assert len(fake_openai.requests) == 1 and files.calls() == []
    now = datetime.now(UTC)
    rows = await budgeted_runtime.store.ledger.usage_rows(
        now - timedelta(days=1), now + timedelta(1)
    )
    assert [(r.prompt_tokens, r.completion_tokens) for r in rows] == [(10, 2)]


async def test_a_slow_tool_past_the_turn_deadline_ends_in_one_short_message(
    config_path: Path, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    with_tools(config_path, files)
    text = config_path.read_text().replace("    cwd:", "    approval: auto\n    cwd:", 1)
    config_path.write_text(text + "  tool_turn_seconds: 1\n")
    fake_openai.enqueue(asking_for_tools(("docs__slow", {"seconds": 600}), text=("Wait. ",)))
    async with open_runtime(config_path) as runtime:
        sink = await turn(runtime, said("be slow"))
        assert isinstance(sink.error, ReplyTimedOut), sink.events
        assert sink.events.count("fail") == 1 and sink.text == "Wait. "
        assert len(fake_openai.requests) == 1
        history = (await runtime.store.recent_messages(said("").key, 10)).messages
        reply = history[-1]
        assert reply.status == "partial" and reply.content == "Wait. "
        assert reply.tools is not None and "docs__slow" in str(reply.tools)
        assert [c["tool"] for c in files.calls()] == ["slow"]


async def test_reset_while_a_call_waits_for_approval_does_not_wait_for_the_approval(
    config_path: Path, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    with_tools(config_path, files, approval_seconds=600)
    delete_then_answer(fake_openai)
    async with open_runtime(config_path) as runtime:
        waiting = RecordingSink()
        asked = asyncio.create_task(runtime.engine.handle(said("delete faq"), waiting))
        await waiting.asking.wait()
        resetting = RecordingSink()
        reset = asyncio.create_task(
            runtime.engine.handle(said("reset", message_id="r1"), resetting)
        )
        await wait_until(lambda: bool(resetting.said), timeout=20, message="reset answered")
        await asked
        reset.result()
        assert [s.decision for s in waiting.settled] == ["denied"]
        assert waiting.events.count("finish") + waiting.events.count("fail") == 1
        assert resetting.said[0].startswith("Done: I've forgotten this thread")
        assert files.calls() == []
        assert (await runtime.store.recent_messages(said("").key, 10)).messages == ()


async def test_a_server_down_at_start_leaves_the_persona_answering_without_tools(
    config_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    text = config_path.read_text().replace(HELPER_MODEL, f"{HELPER_MODEL}    tools: [docs.*]\n")
    dead = json.dumps(["-c", "import sys; sys.exit(3)"])
    text += f"tools:\n  docs:\n    command: {json.dumps(sys.executable)}\n    args: {dead}\n"
    config_path.write_text(text)
    caplog.set_level(logging.INFO)
    async with open_runtime(config_path) as runtime:
        first = await turn(runtime, said("hi"))
        second = await turn(runtime, said("again", message_id="m2"))
    assert first.text == second.text == "Hello world"
    assert all("tools" not in request for request in fake_openai.requests)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([r for r in warnings if "docs" in r.getMessage()]) == 1, warnings


@pytest.fixture
async def moderated_runtime(config_path: Path, files: ToolsServerFiles) -> AsyncIterator[Runtime]:
    with_tools(config_path, files)
    text = config_path.read_text().replace(
        HELPER_MODEL, f"{HELPER_MODEL}    moderation: {{output: true}}\n", 1
    )
    config_path.write_text(text)
    async with open_runtime(config_path) as runtime:
        yield runtime


async def test_moderated_output_with_tool_rounds_is_shown_once_and_checked(
    moderated_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.enqueue(
        asking_for_tools(SEARCH, text=("Let me look. ",)), Script(chunks=("It is in setup.",))
    )
    sink = await turn(moderated_runtime, said("where?"))
    assert sink.text == "Let me look. It is in setup.", sink.events
    assert len(files.calls()) == 1
    history = (await moderated_runtime.store.recent_messages(said("").key, 10)).messages
    assert (history[-1].content, history[-1].status) == (sink.text, "complete")
    assert "".join(fake_openai.moderated).count("Let me look.") == 1


async def test_flagged_text_before_a_tool_call_stops_the_call(
    moderated_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.flag_words["FLAGME"] = ("violence",)
    fake_openai.enqueue(asking_for_tools(SEARCH, text=("FLAGME now. ",)))
    sink = await turn(moderated_runtime, said("where?"))
    assert isinstance(sink.error, ContentFlagged), sink.events
    assert "FLAGME" not in sink.text
    assert files.calls() == [] and len(fake_openai.requests) == 1


async def test_the_turn_deadline_while_an_approval_waits_ends_it_once(
    config_path: Path, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    with_tools(config_path, files, approval_seconds=600)
    config_path.write_text(config_path.read_text() + "  tool_turn_seconds: 1\n")
    delete_then_answer(fake_openai)
    async with open_runtime(config_path) as runtime:
        sink = await turn(runtime, said("delete faq"))
        history = (await runtime.store.recent_messages(said("").key, 10)).messages
    assert isinstance(sink.error, ReplyTimedOut), sink.events
    assert [s.decision for s in sink.settled] == ["cancelled"]
    assert sink.events.count("fail") == 1 and len(fake_openai.requests) == 1
    assert files.calls() == []
    assert "the turn ended (stopped, timed out or restarted) while this call waited" in str(
        history[-1].tools
    )


async def test_parley_forget_while_an_approval_waits_leaves_the_thread_forgotten(
    config_path: Path, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    with_tools(config_path, files, approval_seconds=1)
    delete_then_answer(fake_openai)
    async with open_runtime(config_path) as runtime:
        sink = RecordingSink()
        answering = asyncio.create_task(runtime.engine.handle(said("delete faq"), sink))
        await sink.asking.wait()
        # What `parley forget` does, from its own process: the store forgets the thread.
        assert await runtime.store.forget(said("").key) == 2
        await answering
        history = (await runtime.store.recent_messages(said("").key, 10)).messages
    assert sink.events.count("finish") + sink.events.count("fail") == 1, sink.events
    assert files.calls() == []
    assert history == ()
