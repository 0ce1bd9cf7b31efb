"""A local model that is loading says so in the terminal: core reports, the console renders.

The llama.cpp server is played by a subclass whose start waits for the test and then points
at the fake OpenAI server: the client, its start task and the view are the real ones.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.console_progress import ModelStartView
from core.llm import ModelRequest, TextDelta
from core.local_model import LlamaCppServer, LocalModelClient, model_label
from core.model_files import LocalModelError
from core.types import PromptMessage
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.waiting import wait_until

REQUEST = ModelRequest("smollm2", (PromptMessage("user", "hi"),))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class GatedServer(LlamaCppServer):
    """Starts when the test opens the gate; counts its starts."""

    def __init__(self, base_url: str, *, fails: bool = False) -> None:
        super().__init__(None, context_size=512, threads=1, parallel=1)
        self.gate = threading.Event()
        self.starts = 0
        self._base_url = base_url
        self._fails = fails

    def start(self) -> str:
        self.starts += 1
        self.gate.wait(60)
        if self._fails:
            raise LocalModelError("model file /models/x.gguf does not exist")
        return self._base_url

    def stop(self) -> None:
        self.gate.set()


@pytest.fixture
async def server(fake_openai: FakeOpenAI) -> AsyncIterator[GatedServer]:
    gated = GatedServer(fake_openai.base_url)
    yield gated
    gated.gate.set()


async def reply(client: LocalModelClient) -> str:
    return "".join([e.text async for e in client.stream(REQUEST) if isinstance(e, TextDelta)])


async def test_on_a_terminal_the_line_counts_up_in_place_then_says_ready(
    server: GatedServer,
) -> None:
    screen = Terminal()
    client = LocalModelClient(server, timeout=30, max_retries=0)
    client.start_watcher = ModelStartView(screen, tick_seconds=0.01)
    answering = asyncio.create_task(reply(client))
    await wait_until(lambda: screen.getvalue().count("\r") >= 2, message="no update in place")
    server.gate.set()
    assert await answering == "Hello world"
    await client.close()

    written = screen.getvalue()
    line = "Starting the local model (SmolLM2-135M-Instruct)…"
    assert written.startswith(line)
    updates = written.split("\r")
    assert all(update.startswith(f"{line} ") for update in updates[1:])
    assert updates[-1].startswith(f"{line} ready in ") and updates[-1].endswith(" s\n")
    assert written.count("\n") == 1


async def test_in_a_pipe_it_is_one_line(server: GatedServer) -> None:
    piped = io.StringIO()
    client = LocalModelClient(server, timeout=30, max_retries=0)
    client.start_watcher = ModelStartView(piped, tick_seconds=0.01)
    server.gate.set()
    assert await reply(client) == "Hello world"
    assert await reply(client) == "Hello world"  # started once, said once
    await client.close()
    (line,) = piped.getvalue().splitlines(keepends=True)
    assert line.startswith("Starting the local model (SmolLM2-135M-Instruct)… ready in ")
    assert "\r" not in line and server.starts == 1


async def test_a_failed_start_says_so_and_the_next_turn_tries_again(
    fake_openai: FakeOpenAI,
) -> None:
    broken = GatedServer(fake_openai.base_url, fails=True)
    broken.gate.set()
    piped = io.StringIO()
    client = LocalModelClient(broken, timeout=30, max_retries=0)
    client.start_watcher = ModelStartView(piped)
    for _ in range(2):
        with pytest.raises(LocalModelError, match="does not exist"):
            await reply(client)
    await client.close()
    assert piped.getvalue().count("… failed after ") == 2 and broken.starts == 2


async def test_a_turn_stopped_while_the_model_loads_leaves_the_load_to_the_next(
    server: GatedServer,
) -> None:
    client = LocalModelClient(server, timeout=30, max_retries=0)
    first = asyncio.create_task(reply(client))
    await wait_until(lambda: server.starts == 1, message="the load never began")
    first.cancel()  # Ctrl-C in the chat
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.create_task(reply(client))
    server.gate.set()
    assert await second == "Hello world"
    await client.close()
    assert server.starts == 1


@pytest.mark.parametrize(
    ("file", "label"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct"),
        ("qwen2.5-3b-instruct-q4_k_m.gguf", "qwen2.5-3b-instruct"),
        ("Llama-3.2-1B-Instruct-IQ3_M.gguf", "Llama-3.2-1B-Instruct"),
        ("tinyllama-f16.gguf", "tinyllama"),
        ("model.gguf", "model"),
        ("q4_0.gguf", "q4_0"),
    ],
)
def test_the_model_is_named_without_its_quantization(file: str, label: str) -> None:
    assert model_label(Path("/models") / file) == label


async def test_a_turn_left_while_loading_ends_the_line_and_says_nothing_more(
    server: GatedServer,
) -> None:
    screen = Terminal()
    view = ModelStartView(screen, tick_seconds=0.01)
    client = LocalModelClient(server, timeout=30, max_retries=0)
    client.start_watcher = view
    waiting = asyncio.create_task(reply(client))
    await wait_until(lambda: "\r" in screen.getvalue(), message="no update in place")
    view.leave()  # Ctrl-C: the chat goes back to its prompt
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    left = screen.getvalue()
    assert left.endswith("… (it goes on loading in the background)\n")
    screen.write("alice> ")  # the prompt, which nothing may write over now
    server.gate.set()
    assert await reply(client) == "Hello world"
    await view.close()
    await client.close()
    assert screen.getvalue() == left + "alice> "
