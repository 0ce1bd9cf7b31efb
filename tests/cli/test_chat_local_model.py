"""`parley chat` on the bundled model, as a newcomer first meets it: the load is announced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.chat_child import chat_child

pytestmark = pytest.mark.local_model

# The example's local persona, with replies kept short: this test is about the load line.
CONFIG = """\
providers:
  local:
    type: llamacpp
    context_size: 2048
personas:
  tiny:
    system_prompt: "You are {bot_name}. Answer in one short sentence."
    model: smollm2
    provider: local
    temperature: 0
    max_tokens: 16
    context_tokens: 1024
bots:
  - name: parley
    platform: console
    persona: tiny
storage:
  path: data/parley.db
"""


async def test_the_first_message_says_the_local_model_is_starting_in_one_line(
    tmp_path: Path,
) -> None:
    config = tmp_path / "bots.yaml"
    config.write_text(CONFIG)
    async with chat_child(config) as chat:
        await chat.shows("alice> ")
        await chat.type("Hello!")
        before_reply = await chat.shows("parley> ")
        await chat.shows("\nalice> ")
        await chat.type("And again?")  # the model is up: nothing more is said about it
        between = await chat.shows("parley> ")
        await chat.type("/quit")
        assert await chat.exit_code() == 0

    (line,) = before_reply.splitlines()
    assert line.startswith("Starting the local model (SmolLM2-135M-Instruct)… ready in ")
    assert line.endswith(" s") and "\r" not in chat.out
    assert between == ""
