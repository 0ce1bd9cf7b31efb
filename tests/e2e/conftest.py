"""Builds Parley through its real composition root, pointed at the fakes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from tests.fakes.openai_server import FakeOpenAI

TEST_KEY = "sk-test-0123456789abcdef"

CONFIG = """\
providers:
  fake:
    base_url: {base_url}
    api_key: ${{PARLEY_TEST_KEY}}
    timeout: 1
    max_retries: 2
personas:
  helper:
    system_prompt: "You are {{bot_name}} in {{workspace_name}}/{{channel_name}} with {{user_name}}."
    model: gpt-4o-mini
    provider: fake
    temperature: 0.3
    top_p: 0.9
    max_tokens: 256
    context_tokens: 4000
  pirate:
    system_prompt: "Talk like a pirate."
    model: gpt-4o
    provider: fake
    max_tokens: 64
    context_tokens: 400
    examples:
      - user: "Hello"
        assistant: "Ahoy!"
bots:
  - name: parley
    platform: console
    persona: helper
  - name: team
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    app_token: ${{SLACK_APP_TOKEN}}
    channels:
      C0PIRATE: {{persona: pirate}}
prices:
  gpt-4o-mini: {{input: 0.15, cached_input: 0.075, output: 0.60}}
storage:
  path: {database}
"""


def write_config(directory: Path, base_url: str) -> Path:
    path = directory / "bots.yaml"
    database = directory / "data" / "parley.db"
    path.write_text(CONFIG.format(base_url=base_url, database=database))
    return path


@pytest.fixture
def config_path(tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    return write_config(tmp_path, fake_openai.base_url)


@pytest.fixture
async def runtime(config_path: Path) -> AsyncIterator[Runtime]:
    async with open_runtime(config_path) as runtime:
        yield runtime
