"""A persona's sampling settings reach the provider as set, and unset ones not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sinks import RecordingSink

CONFIG = """\
providers:
  fake:
    base_url: {base_url}
    api_key: ${{PARLEY_TEST_KEY}}
personas:
  tuned:
    system_prompt: Be brief.
    model: m
    provider: fake
    max_tokens: 200
    context_tokens: 2000
    frequency_penalty: 0.4
    presence_penalty: -0.5
    stop: "###"
    seed: 0
  plain:
    system_prompt: Be brief.
    model: m
    provider: fake
    context_tokens: 2000
bots:
  - {{name: tuned, platform: console, persona: tuned}}
  - {{name: plain, platform: console, persona: plain}}
storage:
  path: {database}
"""
# What every request carries whatever the persona sets.
ALWAYS = {"model", "messages", "stream", "stream_options", "max_tokens"}


@pytest.fixture
async def runtime(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG.format(base_url=fake_openai.base_url, database=tmp_path / "p.db"))
    async with open_runtime(path) as runtime:
        yield runtime


async def ask(runtime: Runtime, bot: str) -> None:
    key = ConversationKey("console", "local", bot, "t1")
    sink = RecordingSink()
    await runtime.engine.handle(IncomingMessage(bot, key, Author("u1", "Ada"), "hi", "m1"), sink)
    assert sink.events[-1] == "finish", sink.events


async def test_the_request_carries_exactly_the_settings_the_persona_sets(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    await ask(runtime, "tuned")
    body = fake_openai.requests[-1]
    assert set(body) - ALWAYS == {"frequency_penalty", "presence_penalty", "stop", "seed"}
    sampling = (body["frequency_penalty"], body["presence_penalty"], body["stop"], body["seed"])
    assert sampling == (0.4, -0.5, ["###"], 0)


async def test_a_persona_without_settings_sends_none_of_them(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    await ask(runtime, "plain")
    assert set(fake_openai.requests[-1]) == ALWAYS
