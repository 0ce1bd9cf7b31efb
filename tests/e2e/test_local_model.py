"""The bundled model end to end: the real openai client against llama.cpp running in Parley.

The model is tiny, so these tests check structure and behaviour, never wording.
Skip them locally with `pytest -m "not local_model"`; CI runs them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.model_files import LocalModelError
from core.types import Author, ConversationKey, IncomingMessage
from tests.fakes.sinks import RecordingSink

pytestmark = pytest.mark.local_model

REPO = Path(__file__).resolve().parents[2]
CONFIG = """\
providers:
  local:
    type: llamacpp
    {model_path}
    context_size: 2048
    threads: 2
personas:
  tiny:
    system_prompt: "You are {{bot_name}}. Answer in one short sentence."
    model: smollm2
    provider: local
    temperature: 0
    max_tokens: 48
    context_tokens: 1024
bots:
  - name: parley
    platform: console
    persona: tiny
storage:
  path: data/parley.db
"""
KEY = ConversationKey("console", "local", "parley", "local-test")


def said(text: str, n: int) -> IncomingMessage:
    return IncomingMessage("parley", KEY, Author("u1", "Ada"), text, f"m{n}")


@pytest.fixture
async def local_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    config = tmp_path / "bots.yaml"
    config.write_text(CONFIG.format(model_path=""))
    async with open_runtime(config) as runtime:
        yield runtime


async def test_a_reply_streams_and_its_usage_is_recorded(local_runtime: Runtime) -> None:
    sink = RecordingSink()
    outcome = await local_runtime.engine.handle(said("What color is the sky?", 1), sink)
    assert outcome.status == "complete", outcome.error
    assert sink.events[0] == "start" and sink.events[-1] == "finish"
    assert sink.events.count("append") >= 2 and sink.text.strip()
    usage = sink.summary.usage if sink.summary else None
    assert usage is not None and usage.prompt_tokens > 10 and usage.completion_tokens > 0
    database = local_runtime.config.current.storage.path
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT model, prompt_tokens, completion_tokens FROM usage").fetchall()
    assert rows == [("smollm2", usage.prompt_tokens, usage.completion_tokens)]


async def test_the_second_turn_reaches_the_model_with_its_history(local_runtime: Runtime) -> None:
    first, second = RecordingSink(), RecordingSink()
    await local_runtime.engine.handle(said("My name is Ada. Say hello to me.", 1), first)
    await local_runtime.engine.handle(said("What is my name?", 2), second)
    assert first.summary and first.summary.usage and second.summary and second.summary.usage
    one, two = first.summary.usage, second.summary.usage
    # The second prompt holds the first exchange: at least the first prompt and the reply.
    assert two.prompt_tokens >= one.prompt_tokens + one.completion_tokens


async def test_a_broken_model_path_fails_the_turn_naming_the_path(tmp_path: Path) -> None:
    config = tmp_path / "bots.yaml"
    config.write_text(CONFIG.format(model_path="model_path: models/missing.gguf"))
    async with open_runtime(config) as runtime:
        sink = RecordingSink()
        outcome = await runtime.engine.handle(said("hello?", 1), sink)
        stored = await runtime.store.recent_messages(KEY, 10)
    assert sink.events == ["start", "fail"] and isinstance(sink.error, LocalModelError)
    assert f"model file {tmp_path / 'models' / 'missing.gguf'} does not exist" in str(outcome.error)
    assert stored.messages[0].content == "hello?"


async def test_the_example_config_chats_with_no_key(tmp_path: Path) -> None:
    shutil.copy(REPO / "bots.yaml", tmp_path / "bots.yaml")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "chat",
        "--config",
        str(tmp_path / "bots.yaml"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    out, err = await asyncio.wait_for(process.communicate(b"Hello! Who are you?\n"), 120)
    assert process.returncode == 0, err.decode()
    first_line = out.decode().split("parley> ", 1)[1].splitlines()[0]
    # Model text right after the prompt; a failure would print a bracketed notice instead.
    assert first_line.strip() and not first_line.lstrip().startswith("[")
