"""A tokenizer is loaded only when a conversation comes near its budget, never on the loop.

Until then counts are upper bounds (UTF-8 length); the windows they allow are the windows
exact counts give. The engine tests run the real store and model client against the fake
model on 127.0.0.1.
"""

from __future__ import annotations

import random
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tiktoken

from bots.config_models import config_models, load_config
from core.config import ConfigHolder
from core.context import ContextRequest, build_context, fits_uncut, history_turn, user_turn
from core.engine import Engine
from core.providers import ModelClients
from core.store import Store
from core.tokens import Tokenizers, byte_bound
from core.types import Author, ConversationKey, IncomingMessage, Role, StoredMessage
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sinks import RecordingSink

THREAD = ConversationKey("console", "local", "parley", "t1")
MODEL = "gpt-4o-mini"  # the helper persona's, whose budget is 4000 - 256 tokens
SAMPLES = (
    "plain English words, and some punctuation!",
    "日本語のテキストと絵文字 🎉🎉 mixed with English",
    "def f(x):\n    return x ** 2  # code\r\n\ttabs",
    "Ünïcödé àccents, Кириллица, العربية, עברית",
    "      many     spaces      ",
    "a",
    "",
)


class WatchedTokenizers(Tokenizers):
    """The real tokenizer, noting how many encodings it loaded and how many of them on the
    main thread, where the tests' event loop runs."""

    def __init__(self) -> None:
        super().__init__()
        self.loads_on_main_thread = 0
        self.loads = 0

    def encoding(self, model: str) -> tiktoken.Encoding:
        if not self.loaded(model):
            self.loads += 1
            self.loads_on_main_thread += threading.current_thread() is threading.main_thread()
        return super().encoding(model)


@pytest.fixture
async def engine(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Engine, WatchedTokenizers]]:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    path = write_config(tmp_path, fake_openai.base_url)
    config = load_config(path)
    tokenizers = WatchedTokenizers()
    models = ModelClients()
    async with await Store.open(config.storage.path) as store:
        holder = ConfigHolder(path, config, platforms=config_models())
        engine = Engine(config=holder, store=store, models=models, tokenizers=tokenizers)
        try:
            yield engine, tokenizers
        finally:
            await models.close()


def message(text: str, number: int) -> IncomingMessage:
    return IncomingMessage(
        bot="parley",
        key=THREAD,
        author=Author("U1", "Alice"),
        text=text,
        message_id=f"m{number}",
        delivery=f"m{number}",
    )


def sent_user_turns(fake_openai: FakeOpenAI) -> list[str]:
    messages = fake_openai.requests[-1]["messages"]
    assert isinstance(messages, list)
    return [m["content"] for m in messages if m["role"] == "user"]


async def test_a_short_conversation_never_loads_a_tokenizer(
    engine: tuple[Engine, WatchedTokenizers], fake_openai: FakeOpenAI
) -> None:
    parley, tokenizers = engine
    texts = [f"short question number {n}" for n in range(4)]
    for number, text in enumerate(texts):
        outcome = await parley.handle(message(text, number), RecordingSink())
        assert outcome.status == "complete", outcome
    assert sent_user_turns(fake_openai) == [user_turn("Alice", text) for text in texts]
    assert tokenizers.loads == 0


async def test_a_thread_near_its_budget_is_counted_exactly_off_the_loop(
    engine: tuple[Engine, WatchedTokenizers], fake_openai: FakeOpenAI
) -> None:
    parley, tokenizers = engine
    # About 1,000 bytes and 200 tokens each: five of them pass the 3,744-token budget in
    # bytes, not in tokens, so exact counts must keep every one.
    texts = [f"message {n}: " + "plain words " * 85 for n in range(5)]
    for number, text in enumerate(texts):
        outcome = await parley.handle(message(text, number), RecordingSink())
        assert outcome.status == "complete", outcome
    assert sum(byte_bound(user_turn("Alice", text)) for text in texts) > 4000 - 256
    assert sent_user_turns(fake_openai) == [user_turn("Alice", text) for text in texts]
    assert tokenizers.loads == 1
    assert tokenizers.loads_on_main_thread == 0


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> Tokenizers:
    return Tokenizers.for_models([MODEL], cache_dir=tmp_path_factory.mktemp("tok"))


def test_a_byte_bound_never_undercounts(tokenizers: Tokenizers) -> None:
    for text in SAMPLES:
        assert tokenizers.count(MODEL, text) <= byte_bound(text), text


def stored_as(tokenizers: Tokenizers, number: int, text: str, *, exact: bool) -> StoredMessage:
    role: Role = "user" if number % 2 == 0 else "assistant"
    row = StoredMessage(number, role, "U1", "Alice", text, "complete", 0, datetime.now(UTC))
    replayed = history_turn(row)  # None for empty text, which is never replayed
    count = tokenizers.count if exact else lambda _model, text: byte_bound(text)
    tokens = count(MODEL, replayed.content) if replayed else 0
    return StoredMessage(number, role, "U1", "Alice", text, "complete", tokens, row.created_at)


def request_for(history: list[StoredMessage], new_turn: str, budget: int) -> ContextRequest:
    return ContextRequest(MODEL, "You are terse.", (), history, False, new_turn, (), budget)


def test_windows_from_bounds_are_the_windows_of_exact_counts(tokenizers: Tokenizers) -> None:
    """Wherever bounds say a thread fits, it fits; wherever they cannot say, exact counts of
    rows stored with bounds give the window rows stored with exact counts give."""
    chosen = random.Random(16)
    fitted = 0
    for _ in range(200):
        texts = [chosen.choice(SAMPLES) * chosen.randint(1, 30) for _ in range(8)]
        budget = chosen.randint(40, 3000)
        bounded = [stored_as(tokenizers, n, t, exact=False) for n, t in enumerate(texts[:-1])]
        exact = [stored_as(tokenizers, n, t, exact=True) for n, t in enumerate(texts[:-1])]
        new_turn = user_turn("Alice", texts[-1] or "?")
        expected = build_context(request_for(exact, new_turn, budget), tokenizers)
        uncut = fits_uncut(request_for(bounded, new_turn, budget), Tokenizers())
        if uncut is not None:
            fitted += 1
            assert uncut.messages == expected.messages
            assert expected.dropped_messages == 0
            assert not expected.input_truncated
            assert uncut.prompt_tokens >= expected.prompt_tokens
        recounted = build_context(request_for(bounded, new_turn, budget), tokenizers)
        assert recounted == expected
    assert 0 < fitted < 200  # both paths were taken
