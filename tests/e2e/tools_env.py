"""A platform test's bots.yaml given tools: the real test MCP server as a stdio child, the
helper persona allowed its tools, and the approval wait the test needs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.fakes.mcp_fixtures import REPO, SERVER_MODULE, ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import asking_for_tools
from tests.fakes.waiting import wait_until

# The helper persona's model line, in every platform test's config.
HELPER_MODEL = "    model: gpt-4o-mini\n"


def with_tools(path: Path, files: ToolsServerFiles, *, approval_seconds: float = 600.0) -> None:
    """Rewrites the platform test's config in place: `docs` tools for the helper persona."""
    text = path.read_text()
    assert text.count(HELPER_MODEL) == 1, "the config has one helper persona on gpt-4o-mini"
    text = text.replace(HELPER_MODEL, f"{HELPER_MODEL}    tools: [docs.*]\n")
    args = json.dumps(["-m", SERVER_MODULE, "stdio"])
    env = json.dumps(files.env())
    text += (
        "tools:\n"
        "  docs:\n"
        f"    command: {json.dumps(sys.executable)}\n"
        f"    args: {args}\n"
        f"    env: {env}\n"
        f"    cwd: {json.dumps(str(REPO))}\n"
        "limits:\n"
        f"  approval_seconds: {approval_seconds}\n"
    )
    path.write_text(text)


def search_then_answer(openai: FakeOpenAI) -> None:
    """The model looks something up (read-only: no approval), then answers."""
    openai.enqueue(
        asking_for_tools(("docs__search", {"query": "setup"}), text=("Let me look.",)),
        Script(chunks=("It is in the setup page.",)),
    )


def delete_then_answer(openai: FakeOpenAI, page: str = "faq") -> None:
    """The model asks to delete a page (destructive: it waits for approval), then answers."""
    openai.enqueue(
        asking_for_tools(("docs__delete_page", {"page": page})),
        Script(chunks=("Done.",)),
    )


def tool_result_sent(openai: FakeOpenAI) -> str:
    """The tool message the model was last sent: what it was told of the call."""
    messages = openai.requests[-1]["messages"]
    assert isinstance(messages, list)
    results = [m["content"] for m in messages if m.get("role") == "tool"]
    assert results, "the last request carried a tool result"
    return str(results[-1])


async def calls_made(files: ToolsServerFiles, count: int) -> list[str]:
    """The tools the MCP server ran, once it has logged `count` calls."""
    await wait_until(lambda: len(files.calls()) >= count, message=f"{count} tool calls")
    return [str(call["tool"]) for call in files.calls()]
