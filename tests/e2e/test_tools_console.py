"""Tools in the terminal: the console adapter over the real engine, the fake model asking for
tools and the real test MCP server; the person answers y/N on the next line they type."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bots.app import open_runtime
from bots.console import ConsoleChat
from core.types import Author
from tests.e2e.tools_env import calls_made, delete_then_answer, with_tools
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.waiting import wait_until


@dataclass
class Terminal:
    """What the person sees (`out`) and types (`type`); "" typed ends the input."""

    out: io.StringIO
    typed: asyncio.Queue[str]
    chat: asyncio.Task[None]

    def type(self, line: str) -> None:
        self.typed.put_nowait(line)

    async def shows(self, text: str) -> None:
        await wait_until(
            lambda: text in self.out.getvalue(), message=f"the terminal shows {text!r}"
        )


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


Terminals = Callable[[float], contextlib.AbstractAsyncContextManager[Terminal]]


@pytest.fixture
def terminal(config_path: Path, files: ToolsServerFiles) -> Terminals:
    @contextlib.asynccontextmanager
    async def open_terminal(approval_seconds: float) -> AsyncIterator[Terminal]:
        with_tools(config_path, files, approval_seconds=approval_seconds)
        async with open_runtime(config_path) as runtime:
            typed: asyncio.Queue[str] = asyncio.Queue()
            out = io.StringIO()
            console = ConsoleChat(
                runtime.engine,
                bot_name="parley",
                thread="tools",
                user=Author("alice", "alice"),
                read_line=typed.get,
                out=out,
            )
            chat = asyncio.create_task(console.run())
            shown = Terminal(out, typed, chat)
            try:
                yield shown
                shown.type("")  # Ctrl-D: the chat ends
                await chat
            finally:
                chat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await chat

    return open_terminal


def user_messages(openai: FakeOpenAI) -> list[str]:
    messages = openai.requests[-1]["messages"]
    assert isinstance(messages, list)
    return [str(m["content"]) for m in messages if m["role"] == "user"]


async def test_y_runs_the_call_and_the_answer_is_not_a_message(
    terminal: Terminals, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    async with terminal(600) as shown:
        delete_then_answer(fake_openai)
        shown.type("delete the faq page\n")
        await shown.shows("Run it? [y/N] ")
        assert "alice asked me to run docs.delete_page with:\n" in shown.out.getvalue()
        assert files.calls() == []
        shown.type("y\n")
        await shown.shows("Done.")
        assert await calls_made(files, 1) == ["delete_page"]
        out = shown.out.getvalue()
        assert "✅ Approved by alice\n" in out
        assert "  ✅ docs.delete_page · " in out
        assert user_messages(fake_openai) == ["[alice] delete the faq page"]


async def test_anything_else_denies_it(
    terminal: Terminals, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    async with terminal(600) as shown:
        delete_then_answer(fake_openai)
        shown.type("delete the faq page\n")
        await shown.shows("Run it? [y/N] ")
        shown.type("no thanks\n")
        await shown.shows("Done.")
        out = shown.out.getvalue()
        assert "🚫 Denied by alice\n" in out
        assert "  🚫 docs.delete_page · denied by alice\n" in out
        assert user_messages(fake_openai) == ["[alice] delete the faq page"]
    assert files.calls() == []


async def test_an_expired_request_leaves_the_next_line_a_message(
    terminal: Terminals, fake_openai: FakeOpenAI, files: ToolsServerFiles
) -> None:
    async with terminal(1) as shown:
        delete_then_answer(fake_openai)
        shown.type("delete the faq page\n")
        await shown.shows("⌛ Expired: not approved within 1 second\n")
        await shown.shows("Done.")
        shown.type("never mind\n")  # typed after it expired: a new message, not lost
        await wait_until(lambda: len(fake_openai.requests) == 3, message="a third model call")
        assert user_messages(fake_openai)[-1] == "[alice] never mind"
    assert files.calls() == []
