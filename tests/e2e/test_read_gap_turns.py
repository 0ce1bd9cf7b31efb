"""Whole turns against a provider that finishes its reply but never ends its stream."""

from __future__ import annotations

import logging

import pytest

import core.turn.ending
from bots.app import Runtime
from core.types import Author, ConversationKey, IncomingMessage
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink


def message(thread: str, n: int = 1) -> IncomingMessage:
    key = ConversationKey("console", "local", "parley", thread)
    return IncomingMessage("parley", key, Author("U1", "Alice"), "hello", f"{thread}-{n}")


@pytest.mark.parametrize("kind", ["keepalive", "empty"])
async def test_keep_alives_after_the_finish_cannot_hold_the_turn(
    runtime: Runtime,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.INFO, logger="core.engine")
    monkeypatch.setattr(core.turn.ending, "USAGE_WAIT_SECONDS", 0.3)
    # Keep-alives far more often than the provider's read timeout: the stall never fires.
    fake_openai.enqueue(
        Script(
            chunks=("Hello", " world"), endless=kind, endless_every=0.02, endless_after_finish=True
        )
    )
    sink = RecordingSink()
    outcome = await runtime.engine.handle(message(kind), sink)
    assert sink.events[-1] == "finish" and sink.endings == 1 and sink.text == "Hello world"
    assert outcome.status == "complete"
    assert fake_openai.endless_writes > 1, "the provider kept the stream alive meanwhile"
    assert "did not end cleanly after the reply" in caplog.text
    history = await runtime.store.recent_messages(message(kind).key, 10)
    assert [(m.role, m.status) for m in history.messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    # The thread goes on, on a fresh connection.
    nxt = RecordingSink()
    await runtime.engine.handle(message(kind, 2), nxt)
    assert nxt.events[-1] == "finish" and nxt.error is None
