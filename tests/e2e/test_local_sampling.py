"""Sampling settings reach the bundled model: a seed repeats a reply, a stop string cuts one.

Real llama.cpp through Parley's engine; like tests/e2e/test_local_model.py these check
behaviour, never wording: a stop word is picked from the model's own reply.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.types import Author, ConversationKey, IncomingMessage
from tests.fakes.sinks import RecordingSink

pytestmark = pytest.mark.local_model

CONFIG = """\
providers:
  local: {{type: llamacpp, context_size: 1024, threads: 2}}
personas:
  seeded:
    system_prompt: You are a storyteller.
    model: smollm2
    provider: local
    temperature: 1.5  # so that, without the seed, two replies differ
    seed: 7
    max_tokens: 32
    context_tokens: 1024
  greedy:
    system_prompt: Answer in a few sentences.
    model: smollm2
    provider: local
    temperature: 0
    max_tokens: 48
    context_tokens: 1024
    {stop}
bots:
  - {{name: seeded, platform: console, persona: seeded}}
  - {{name: greedy, platform: console, persona: greedy}}
storage: {{path: data/parley.db}}
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG.format(stop=""))
    return path


@pytest.fixture
async def runtime(config_path: Path) -> AsyncIterator[Runtime]:
    async with open_runtime(config_path) as runtime:
        yield runtime


async def reply(runtime: Runtime, bot: str, thread: str, text: str) -> str:
    """The reply in a fresh thread, so no history differs between two asks."""
    key = ConversationKey("console", "local", bot, thread)
    sink = RecordingSink()
    outcome = await runtime.engine.handle(
        IncomingMessage(bot, key, Author("u1", "Ada"), text, f"m-{thread}"), sink
    )
    assert outcome.status == "complete", outcome.error
    return sink.text


async def test_a_seed_makes_the_same_question_get_the_same_reply(runtime: Runtime) -> None:
    question = "Tell me a story about a fox."
    first = await reply(runtime, "seeded", "a", question)
    second = await reply(runtime, "seeded", "b", question)
    assert first.strip() and first == second


def stop_word(text: str) -> str:
    """A word from the second half of `text` that does not occur before it."""
    words = text.split()
    for index in range(len(words) // 2, len(words)):
        word = words[index]
        if len(word) >= 3 and text.index(word) > len(" ".join(words[:index])) - 1:
            return word
    raise AssertionError(f"no word to stop at in {text!r}")


async def test_a_stop_string_ends_the_reply_before_it(runtime: Runtime, config_path: Path) -> None:
    question = "What is the moon made of?"
    whole = await reply(runtime, "greedy", "a", question)
    word = stop_word(whole)
    config_path.write_text(CONFIG.format(stop=f"stop: [{json.dumps(word)}]"))
    assert runtime.config.reload()

    cut = await reply(runtime, "greedy", "b", question)
    assert word not in cut
    assert cut.rstrip() == whole[: whole.index(word)].rstrip()
