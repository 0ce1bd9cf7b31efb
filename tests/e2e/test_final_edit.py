"""The reply is finished for the user as soon as the model ends it: the usage chunk and the
stream's end come after, and whatever happens to them the reply stays whole."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

import core.turn.ending
from bots.app import Runtime
from core.types import Author, ConversationKey, IncomingMessage, TurnOutcome, Usage
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import wait_until

ALICE = Author("U1", "Alice")


def message(thread: str) -> IncomingMessage:
    key = ConversationKey("console", "local", "parley", thread)
    return IncomingMessage("parley", key, ALICE, "hello", f"{thread}-1")


async def stored(runtime: Runtime, thread: str) -> tuple[str, str, str]:
    history = await runtime.store.recent_messages(message(thread).key, 10)
    last = history.messages[-1]
    return last.status, last.content, last.error


async def usage_rows(runtime: Runtime) -> list[tuple[int, int]]:
    now = datetime.now(UTC)
    rows = await runtime.store.ledger.usage_rows(now - timedelta(days=1), now)
    return [(row.prompt_tokens, row.completion_tokens) for row in rows]


async def test_the_reply_is_finished_before_the_usage_chunk_comes(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    usage_sent = asyncio.Event()
    fake_openai.enqueue(
        Script(chunks=("Hello", " world"), usage=(40, 2, 0), release_usage=usage_sent)
    )
    sink = RecordingSink()
    turn = asyncio.create_task(runtime.engine.handle(message("early"), sink))
    # The fake holds the usage chunk and [DONE] until told: the finish cannot wait for them.
    await wait_until(lambda: sink.endings == 1, timeout=10, message="not finished early")
    assert sink.events[-1] == "finish" and sink.text == "Hello world"
    assert not turn.done(), "the turn goes on: it waits for the figures to store them"

    usage_sent.set()
    outcome: TurnOutcome = await turn
    assert outcome.status == "complete" and outcome.summary is not None
    assert outcome.summary.usage == Usage(40, 2, 0)
    assert await stored(runtime, "early") == ("complete", "Hello world", "")
    assert await usage_rows(runtime) == [(40, 2)]
    assert sink.endings == 1


async def test_a_stream_cut_after_the_finish_keeps_the_reply_whole(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=("Hello", " world"), usage=(40, 2, 0), cut_after_finish=True))
    sink = RecordingSink()
    outcome = await runtime.engine.handle(message("cut"), sink)
    assert sink.events[-1] == "finish" and sink.endings == 1 and sink.error is None
    assert outcome.status == "complete"
    assert await stored(runtime, "cut") == ("complete", "Hello world", "")
    # No figures came: Parley counted the turn itself (the reply is two tokens).
    ((prompt, completion),) = await usage_rows(runtime)
    assert prompt > 10 and completion == 2
    assert len(fake_openai.requests) == 1, "a finished reply is never asked for again"


async def test_a_stream_that_stalls_after_the_finish_is_let_go(
    runtime: Runtime,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="core.engine")
    monkeypatch.setattr(core.turn.ending, "USAGE_WAIT_SECONDS", 0.2)
    never = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("Hello", " world"), release_usage=never))
    sink = RecordingSink()
    outcome = await runtime.engine.handle(message("stall"), sink)
    assert sink.events[-1] == "finish" and sink.endings == 1
    assert outcome.status == "complete"
    assert await stored(runtime, "stall") == ("complete", "Hello world", "")
    assert "did not end cleanly after the reply" in caplog.text


async def test_a_turn_stopped_while_the_usage_is_awaited_stays_complete(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    never = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("Hello", " world"), release_usage=never))
    sink = RecordingSink()
    turn = asyncio.create_task(runtime.engine.handle(message("stopped"), sink))
    await wait_until(lambda: sink.endings == 1, timeout=10, message="not finished early")
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    # The user saw the whole reply, finished: no notice is added, and it is history.
    assert sink.events[-1] == "finish" and sink.endings == 1
    assert await stored(runtime, "stopped") == ("complete", "Hello world", "")
