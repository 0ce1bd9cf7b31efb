"""The tool loop under attack: a hostile model, through `Engine.handle`, against the fake
OpenAI server and the real test MCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.errors import NoAnswerAfterTools
from tests.e2e.test_engine import said, turn
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
    config_path.write_text(config_path.read_text() + "  tool_rounds: 2\n")
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


async def test_the_same_call_id_twice_runs_once_and_the_request_stays_valid(
    tools_runtime: Runtime, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    fake_openai.enqueue(
        asking_for_tools(SEARCH, SEARCH, tool_call_ids=("call_same", "call_same")),
        Script(chunks=("Done.",)),
    )
    sink = await turn(tools_runtime, said("look it up twice"))
    assert sink.text == "Done.", sink.events
    assert sink.error is None
