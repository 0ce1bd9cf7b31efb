"""The tool loop under attack: a hostile model, through `Engine.handle`, against the fake
OpenAI server and the real test MCP server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.errors import (
    ContextTooLong,
    NoAnswerAfterTools,
)
from tests.e2e.test_engine import said, sent_messages, turn
from tests.e2e.tools_env import with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import FakeCall, asking_for_tools

SEARCH: FakeCall = ("docs__search", {"query": "setup"})


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


@pytest.fixture
async def tools_runtime(config_path: Path, files: ToolsServerFiles) -> AsyncIterator[Runtime]:
    with_tools(config_path, files)
    # with_tools ends the file in the `limits:` block: two rounds are enough to attack.
    text = config_path.read_text().replace("    cwd:", "    approval: auto\n    cwd:", 1)
    config_path.write_text(text + "  tool_rounds: 2\n  tool_result_chars: 1000\n")
    async with open_runtime(config_path) as runtime:
        yield runtime


async def test_tools_asked_for_after_the_last_round_still_end_in_a_message(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    # The model asks in every round, and in the last (offered nothing) asks again, silent.
    fake_openai.enqueue(
        asking_for_tools(SEARCH), asking_for_tools(SEARCH), asking_for_tools(SEARCH)
    )
    sink = await turn(tools_runtime, said("look it up"))
    assert "tools" not in fake_openai.requests[-1]
    assert len(files.calls()) == 2  # the third ask never ran
    # Never an empty reply: the user is told, in one short message, why there is no answer.
    assert isinstance(sink.error, NoAnswerAfterTools), sink.events
    assert sink.events[-1] == "fail" and sink.events.count("fail") == 1


async def test_a_call_id_used_again_gets_its_own_step_line_and_its_own_answer(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    # Twice in one round, then again in the next round (servers that send no id number
    # each round's calls from call_0 again).
    fake_openai.enqueue(
        asking_for_tools(SEARCH, SEARCH, tool_call_ids=("call_0", "call_0")),
        asking_for_tools(SEARCH, tool_call_ids=("call_0",)),
        Script(chunks=("Done.",)),
    )
    sink = await turn(tools_runtime, said("look it up thrice"))
    assert sink.text == "Done.", sink.events
    assert len(files.calls()) == 3
    finished = {step.call_id for step in sink.steps if step.state == "ok"}
    assert len(finished) == 3  # three lines in the reply, not one line updated thrice
    sent = sent_messages(fake_openai)
    asked = [c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    answered = [m["tool_call_id"] for m in sent if m["role"] == "tool"]
    assert asked == answered and len(set(asked)) == 3


async def test_a_hundred_calls_at_once_each_run_once_and_each_is_answered(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    calls: list[FakeCall] = [("docs__search", {"query": f"q{n}"}) for n in range(100)]
    fake_openai.enqueue(asking_for_tools(*calls), Script(chunks=("All searched.",)))
    sink = await turn(tools_runtime, said("search everything"))
    assert sink.text == "All searched.", sink.events
    assert sorted(str(call["arguments"]) for call in files.calls()) == sorted(
        str({"query": f"q{n}"}) for n in range(100)
    )
    results = [m for m in sent_messages(fake_openai) if m["role"] == "tool"]
    assert len(results) == 100


async def test_unknown_tools_and_bad_arguments_are_told_to_the_model_and_never_run(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.enqueue(
        asking_for_tools(
            ("docs__nothing", {}), ("docs__search", "{not json"), ("docs__search", "[1, 2]")
        ),
        Script(chunks=("Sorry.",)),
    )
    sink = await turn(tools_runtime, said("try"))
    assert sink.text == "Sorry."
    results = [str(m["content"]) for m in sent_messages(fake_openai) if m["role"] == "tool"]
    assert "there is no tool named 'docs__nothing'" in results[0]
    assert "not valid JSON" in results[1]
    assert "must be a JSON object" in results[2]
    assert [step.state for step in sink.steps] == ["failed"] * 3
    assert files.calls() == []


async def test_a_huge_result_is_cut_sent_cut_and_replayed_cut(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.enqueue(
        asking_for_tools(("docs__big", {}), text=("Looking. ",)), Script(chunks=("It is big.",))
    )
    sink = await turn(tools_runtime, said("fetch big", message_id="m1"))
    assert sink.text == "Looking. It is big."
    (result,) = [str(m["content"]) for m in sent_messages(fake_openai) if m["role"] == "tool"]
    assert result.startswith("0123456789") and "cut: the result had 100,000 characters" in result
    assert len(result) < 1200
    fake_openai.enqueue(Script(chunks=("Again.",)))
    await turn(tools_runtime, said("and now?", message_id="m2"))
    sent = sent_messages(fake_openai)
    assert all(len(str(m.get("content") or "")) < 1200 for m in sent)
    # Shown once each, replayed once each: the text before the call and the answer after.
    replayed = "".join(str(m.get("content") or "") for m in sent if m["role"] == "assistant")
    assert replayed.count("Looking.") == 1 and replayed.count("It is big.") == 1


async def test_a_turn_of_two_rounds_is_one_turn_in_the_usage_table(
    tools_runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(asking_for_tools(SEARCH), Script(chunks=("Found it.",)))
    await turn(tools_runtime, said("look it up"))
    now = datetime.now(UTC)
    rows = await tools_runtime.store.ledger.usage_rows(now - timedelta(days=1), now + timedelta(1))
    assert [(r.turns, r.prompt_tokens, r.completion_tokens) for r in rows] == [(1, 20, 4)]


async def test_arguments_and_results_never_reach_the_info_log(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = "sk-live-0123456789abcdef"
    fake_openai.enqueue(
        asking_for_tools(("docs__search", {"query": secret}), ("docs__nothing", secret)),
        Script(chunks=("Done.",)),
    )
    await turn(tools_runtime, said("look up my key"))
    assert any("tool docs.search ok" in r.getMessage() for r in caplog.records)
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [line for line in info if secret in line or "3 pages match" in line]


async def test_a_server_killed_mid_call_fails_the_step_and_the_model_is_told(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.enqueue(
        asking_for_tools(("docs__slow", {"seconds": 600})), Script(chunks=("It broke.",))
    )
    answering = asyncio.create_task(turn(tools_runtime, said("be slow")))
    os.kill(await files.slow_started(), signal.SIGKILL)  # the stdio child this test started
    async with asyncio.timeout(60):  # a guard against a hang, not a measurement
        sink = await answering
    assert sink.text == "It broke." and sink.error is None
    assert [step.state for step in sink.steps] == ["running", "failed"]
    assert sink.steps[-1].note
    told = [str(m["content"]) for m in sent_messages(fake_openai) if m["role"] == "tool"]
    assert len(told) == 1 and told[0]
    assert len(fake_openai.requests) == 2


async def test_a_long_tool_exchange_that_no_longer_fits_is_dropped_whole(
    config_path: Path, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    with_tools(config_path, files)
    text = config_path.read_text().replace(
        "    context_tokens: 4000\n", "    context_tokens: 900\n", 1
    )
    text = text.replace("    cwd:", "    approval: auto\n    cwd:", 1)
    config_path.write_text(text + "  tool_result_chars: 1000\n")
    fake_openai.enqueue(
        asking_for_tools(("docs__big", {}), text=("Looking. ",)),
        Script(chunks=("It is big.",)),
        Script(chunks=("Fine.",)),
    )
    # The exchange fits its own turn, not beside a long next message.
    long_question = "and now? " + "please " * 250
    async with open_runtime(config_path) as runtime:
        first = await turn(runtime, said("fetch big"))
        assert first.text == "Looking. It is big.", first.error
        sink = await turn(runtime, said(long_question, message_id="m2"))
    assert sink.text == "Fine.", sink.error
    sent = sent_messages(fake_openai)
    assert [m["role"] for m in sent] == ["system", "user"], sent
    assert sent[-1]["content"] == f"[Alice] {long_question}"


async def test_results_too_long_for_the_context_are_never_sent(
    config_path: Path, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    with_tools(config_path, files)
    text = config_path.read_text().replace(
        "    context_tokens: 4000\n", "    context_tokens: 900\n", 1
    )
    text = text.replace("    cwd:", "    approval: auto\n    cwd:", 1)
    config_path.write_text(text + "  tool_result_chars: 1000\n")
    fake_openai.enqueue(asking_for_tools(*[("docs__big", {})] * 4, text=("Looking. ",)))
    async with open_runtime(config_path) as runtime:
        sink = await turn(runtime, said("fetch big four times"))
        history = (await runtime.store.recent_messages(said("").key, 10)).messages
    assert isinstance(sink.error, ContextTooLong), sink.events
    assert "too long" in sink.error.user_message
    assert len(fake_openai.requests) == 1  # the oversized second round never went out
    assert len(files.calls()) == 4  # what ran stays on record, and is never run again
    assert history[-1].tools is not None and history[-1].content == "Looking. "
