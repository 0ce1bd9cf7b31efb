"""A provider that never finishes or never stops: the turn's deadlines and caps end it with one
short message, keep what was shown, and the thread goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from core.errors import ModelError, ReplyCut, ReplyTimedOut
from core.types import Author, ConversationKey, IncomingMessage, MessageStatus
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.sinks import RecordingSink

THREAD = ConversationKey("console", "local", "parley", "deadlines")
# Small, so a test takes seconds: the provider's per-read timeout (1 s in the shared config)
# is never reached, as the endless streams below send something every 0.2 s.
LIMITS = "limits: {first_text_seconds: 1, reply_seconds: 2}\n"
EVERY = 0.2
HELPER_MAX_TOKENS = 256  # tests/e2e/conftest.py's helper persona


@pytest.fixture
async def runtime(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    path = write_config(tmp_path, fake_openai.base_url)
    path.write_text(path.read_text() + LIMITS)
    fake_openai.default = echo_last_user
    async with open_runtime(path) as runtime:
        yield runtime


def said(text: str, message_id: str) -> IncomingMessage:
    return IncomingMessage(
        bot="parley", key=THREAD, author=Author("U1", "Alice"), text=text, message_id=message_id
    )


async def one_turn(runtime: Runtime, text: str, message_id: str) -> RecordingSink:
    sink = RecordingSink()
    await runtime.engine.handle(said(text, message_id), sink)
    return sink


async def stored(runtime: Runtime) -> list[tuple[str, MessageStatus, str, str]]:
    rows = (await runtime.store.recent_messages(THREAD, 20)).messages
    return [(m.role, m.status, m.content, m.error) for m in rows]


async def check_thread_goes_on(runtime: Runtime, fake: FakeOpenAI) -> None:
    await check_thread_goes_on_after(runtime, fake, requests=2)


async def check_thread_goes_on_after(runtime: Runtime, fake: FakeOpenAI, requests: int) -> None:
    """The next message in the same thread is stored and answered."""
    sink = await one_turn(runtime, "and now?", "m2")
    assert sink.events[-1] == "finish" and sink.text.endswith(" and now?"), sink.events
    rows = await stored(runtime)
    assert [(r[0], r[1]) for r in rows[-2:]] == [("user", "complete"), ("assistant", "complete")]
    assert len(fake.requests) == requests


async def test_the_first_text_deadline_covers_retries(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    # A 503 then keep-alives: the retry's wait and the second attempt share the deadline.
    fake_openai.enqueue(
        Script(status=503, headers={"retry-after-ms": "50"}),
        Script(chunks=(), endless="keepalive", endless_every=EVERY),
    )
    sink = await one_turn(runtime, "hello?", "m1")
    check_one_short_message(sink, ReplyTimedOut)
    assert len(fake_openai.requests) == 2
    await check_thread_goes_on_after(runtime, fake_openai, requests=3)


def check_one_short_message(sink: RecordingSink, kind: type[ModelError]) -> None:
    assert sink.endings == 1 and sink.events[-1] == "fail", sink.events
    assert isinstance(sink.error, kind), sink.error
    notice = sink.error.user_message
    assert len(notice) < 120 and "\n" not in notice, notice


SILENT = {
    "keepalive": Script(chunks=(), endless="keepalive", endless_every=EVERY),
    "empty": Script(chunks=(), endless="empty", endless_every=EVERY),
    # Words the user never sees: a reasoning model that thinks forever.
    "thinking": Script(chunks=("<think>",), endless="words", endless_every=EVERY),
    "thinking_flood": Script(
        chunks=("<think>",), endless="words", endless_every=0, endless_text="x" * 500
    ),
}


@pytest.mark.parametrize("silent", list(SILENT))
async def test_a_stream_alive_without_text_ends_at_the_first_text_deadline(
    runtime: Runtime, fake_openai: FakeOpenAI, silent: str
) -> None:
    fake_openai.enqueue(SILENT[silent])
    sink = await one_turn(runtime, "hello?", "m1")
    check_one_short_message(sink, ReplyTimedOut)
    assert "first text" in str(sink.error)
    assert sink.text == ""
    rows = await stored(runtime)
    assert rows[1][:3] == ("assistant", "failed", "")
    assert "first text" in rows[1][3]
    await check_thread_goes_on(runtime, fake_openai)


async def test_a_reply_that_never_ends_is_cut_at_the_whole_reply_deadline(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    # A word every 0.2 s: text keeps coming, so only the whole-reply deadline can end it;
    # 2 s of it stays far below the persona's length cap.
    fake_openai.enqueue(Script(chunks=("Once ",), endless="words", endless_every=EVERY))
    sink = await one_turn(runtime, "tell me a story", "m1")
    check_one_short_message(sink, ReplyTimedOut)
    assert "whole reply" in str(sink.error)
    assert sink.text.startswith("Once word ")
    rows = await stored(runtime)
    # What was shown is kept, as partial.
    assert rows[1][:3] == ("assistant", "partial", sink.text)
    assert "whole reply" in rows[1][3]
    await check_thread_goes_on(runtime, fake_openai)


async def test_a_reply_far_past_max_tokens_is_cut_at_the_cap(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    # As fast as the socket takes it, 500 characters a chunk: megabytes within the deadline.
    flood = Script(chunks=("Start ",), endless="words", endless_every=0, endless_text="x" * 500)
    fake_openai.enqueue(flood)
    sink = await one_turn(runtime, "a short answer please", "m1")
    check_one_short_message(sink, ReplyCut)
    assert "cut" in sink.error.user_message if sink.error else False
    assert sink.text.startswith("Start x")
    assert len(sink.text) <= HELPER_MAX_TOKENS * 8
    rows = await stored(runtime)
    assert rows[1][:3] == ("assistant", "partial", sink.text)
    assert "cut" in rows[1][3]
    await check_thread_goes_on(runtime, fake_openai)


@pytest.mark.parametrize("shown_first", [False, True])
async def test_a_single_huge_sse_line_is_refused(
    runtime: Runtime, fake_openai: FakeOpenAI, shown_first: bool
) -> None:
    chunks = ("Hi",) if shown_first else ()
    fake_openai.enqueue(Script(chunks=chunks, endless="huge_line", huge_line=5_000_000))
    sink = await one_turn(runtime, "hello", "m1")
    check_one_short_message(sink, ReplyCut)
    assert "line" in str(sink.error)
    assert sink.text == ("Hi" if shown_first else "")
    rows = await stored(runtime)
    status: MessageStatus = "partial" if shown_first else "failed"
    assert rows[1][:3] == ("assistant", status, sink.text)
    # Refused once, not retried: the provider said nothing a retry would change.
    assert len(fake_openai.requests) == 1
    await check_thread_goes_on(runtime, fake_openai)


async def test_the_global_character_cap_holds_whatever_max_tokens_says(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A persona allowed 256 tokens (2,048 characters), under a global cap of 1,000.
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    path = write_config(tmp_path, fake_openai.base_url)
    path.write_text(path.read_text() + LIMITS.replace("}", ", reply_chars: 1000}"))
    fake_openai.default = echo_last_user
    fake_openai.enqueue(Script(chunks=(), endless="words", endless_every=0, endless_text="y" * 7))
    async with open_runtime(path) as runtime:
        sink = await one_turn(runtime, "a short answer please", "m1")
        check_one_short_message(sink, ReplyCut)
        assert sink.text == "y" * 1000
        assert "cut at 1000 characters" in str(sink.error)
        rows = await stored(runtime)
        assert rows[1][:3] == ("assistant", "partial", sink.text)
        await check_thread_goes_on(runtime, fake_openai)
