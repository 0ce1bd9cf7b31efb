"""A turn tokenizes the user's text once: when it is stored, not again to fit the context.

The engine runs with its real store, tokenizer and model client against the fake model on
127.0.0.1; the tokenizer is the real one, noting each text it is asked to count.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.config_models import config_models, load_config
from core.config import ConfigHolder
from core.engine import Engine
from core.providers import ModelClients
from core.store import Store
from core.tokens import Tokenizers
from core.types import Attachment, Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sinks import RecordingSink

THREAD = ConversationKey("console", "local", "parley", "t1")
PASTE = "a long paste, " * 300


class NotingTokenizers(Tokenizers):
    """The real tokenizer; `counted` lists every text it counted, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.counted: list[str] = []

    def count(self, model: str, text: str) -> int:
        self.counted.append(text)
        return super().count(model, text)

    def measure(self, model: str, text: str) -> int:
        if self.loaded(model):  # only then does measuring tokenize
            self.counted.append(text)
        return super().measure(model, text)


@pytest.fixture
async def engine(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Engine, NotingTokenizers]]:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    path = write_config(tmp_path, fake_openai.base_url)
    config = load_config(path)
    tokenizers = NotingTokenizers()
    for persona in config.personas.values():
        tokenizers.encoding(persona.model)  # loaded, so every count is exact
    models = ModelClients()
    async with await Store.open(config.storage.path) as store:
        holder = ConfigHolder(path, config, platforms=config_models())
        engine = Engine(config=holder, store=store, models=models, tokenizers=tokenizers)
        try:
            yield engine, tokenizers
        finally:
            await models.close()


def message(text: str, attachments: tuple[Attachment, ...] = ()) -> IncomingMessage:
    return IncomingMessage(
        bot="parley",
        key=THREAD,
        author=Author("U1", "Alice"),
        text=text,
        message_id="m1",
        delivery="m1",
        attachments=attachments,
    )


def counts_of(tokenizers: NotingTokenizers, text: str) -> int:
    return sum(1 for counted in tokenizers.counted if text in counted)


async def test_a_message_is_tokenized_once_per_turn(
    engine: tuple[Engine, NotingTokenizers], fake_openai: FakeOpenAI
) -> None:
    parley, tokenizers = engine
    sink = RecordingSink()
    outcome = await parley.handle(message(PASTE), sink)
    assert outcome.status == "complete", outcome
    assert counts_of(tokenizers, PASTE) == 1, tokenizers.counted
    # The count it kept is the one the model was sent: the prompt's tokens are exact.
    (request,) = fake_openai.requests
    messages = request["messages"]
    assert isinstance(messages, list)
    assert messages[-1]["content"] == f"[Alice] {PASTE}"


async def test_a_file_read_after_storing_is_counted_again_only_once(
    engine: tuple[Engine, NotingTokenizers],
) -> None:
    parley, tokenizers = engine
    notes = Attachment("notes.txt", "text/plain", len(PASTE), data=PASTE.encode())
    outcome = await parley.handle(message("see the file", (notes,)), RecordingSink())
    assert outcome.status == "complete", outcome
    # Once as it arrived, once with the file inlined; the context reuses the second.
    assert counts_of(tokenizers, "see the file") == 2, tokenizers.counted
