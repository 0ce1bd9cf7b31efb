"""A hostile model provider through the real openai client: its own words reach the log and the
stored row, odd but usable answers are accepted, and nothing it sends crashes a turn."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bots.app import Runtime
from core.errors import ProviderUnavailable
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.test_console import parley_chat
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink

OVERLOADED = "Internal error: upstream overloaded"
HTML = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>502 Bad Gateway</h1><p>nginx/1.25.3</p></body></html>"
)
ENVOY = "upstream connect error or disconnect/reset before headers"
# Each script answers every attempt (timeout 1 s, 2 retries in conftest's config).
HOSTILE = {
    "error-body": Script(body=json.dumps({"error": {"message": OVERLOADED}})),
    "html-page": Script(body=HTML, content_type="text/html"),
    "pretty-error": Script(body=json.dumps({"error": {"message": OVERLOADED}}, indent=2)),
    "error-as-stream": Script(
        body=json.dumps({"error": OVERLOADED}), content_type="text/event-stream"
    ),
    "plain-text": Script(body=f"upstream: {ENVOY}", content_type="text/plain"),
    "choices-object": Script(events=('{"choices": {"index": 0, "delta": {"content": "x"}}}',)),
    "delta-string": Script(events=('{"choices": [{"index": 0, "delta": "x"}]}',)),
    "choice-string": Script(events=('{"choices": ["x"]}',)),
    "content-number": Script(events=('{"choices": [{"index": 0, "delta": {"content": 7}}]}',)),
}
# What the log line and the stored row must carry: the provider's own words.
WORDS = {
    "error-body": OVERLOADED,
    "html-page": "502 Bad Gateway",
    "pretty-error": OVERLOADED,
    "error-as-stream": OVERLOADED,
    "plain-text": ENVOY,
    "choices-object": "choices",
    "delta-string": "delta",
    "choice-string": "choice",
    "content-number": "content",
}


async def ask(runtime: Runtime, thread: str, text: str = "hello") -> RecordingSink:
    key = ConversationKey("console", "local", "parley", thread)
    message = IncomingMessage("parley", key, Author("U7", "Uma"), text, f"{thread}-{text}")
    sink = RecordingSink()
    await runtime.engine.handle(message, sink)
    return sink


async def stored_reply(runtime: Runtime, thread: str) -> tuple[str, str, str]:
    key = ConversationKey("console", "local", "parley", thread)
    history = await runtime.store.recent_messages(key, 10)
    last = history.messages[-1]
    return last.status, last.content, last.error


@pytest.mark.parametrize("kind", HOSTILE)
async def test_a_hostile_200_is_a_provider_error_in_its_own_words(
    runtime: Runtime, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    fake_openai.default = HOSTILE[kind]
    with caplog.at_level(logging.INFO):
        sink = await ask(runtime, kind)
    assert sink.events == ["start", "fail"], sink.events
    assert isinstance(sink.error, ProviderUnavailable), sink.error
    status, content, error = await stored_reply(runtime, kind)
    assert (status, content) == ("failed", "")
    assert WORDS[kind] in error and "stream ended" not in error, error
    turn_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("turn ")]
    assert any(WORDS[kind] in line for line in turn_lines), turn_lines
    assert not any(r.exc_info for r in caplog.records), "no traceback for a provider's fault"
    # Retried like any unavailable provider, before anything reached the user.
    assert len(fake_openai.requests) == 3


async def test_a_non_streamed_completion_is_the_answer(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = Script(
        chunks=("<think>plan</think>\n", "A whole ", "answer."),
        usage=(40, 5, 8),
        ignore_stream=True,
    )
    sink = await ask(runtime, "unstreamed")
    assert sink.events[-1] == "finish" and sink.text == "A whole answer."
    assert sink.summary is not None and sink.summary.usage is not None
    assert sink.summary.usage.prompt_tokens == 40
    assert await stored_reply(runtime, "unstreamed") == ("complete", "A whole answer.", "")
    assert len(fake_openai.requests) == 1


def usage_event(prompt: object, completion: object, cached: object = 0) -> str:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    return json.dumps({"choices": [], "usage": usage})


ANSWER = '{"choices": [{"index": 0, "delta": {"content": "Fine."}, "finish_reason": "stop"}]}'
ABSURD_USAGE = {
    "huge": usage_event(10**23, 10**23),
    "string": usage_event("lots", "many"),
    "negative": usage_event(-5, 3, -1),
    "float": usage_event(1e300, 2.5),
    "object": usage_event({"n": 1}, [1]),
    "cached-beyond-prompt": usage_event(10, 2, 10**23),
}


@pytest.mark.parametrize("kind", ABSURD_USAGE)
async def test_absurd_usage_never_crashes_parley_chat(
    config_path: Path, fake_openai: FakeOpenAI, kind: str
) -> None:
    fake_openai.default = Script(events=(ANSWER, ABSURD_USAGE[kind]))
    code, out, err = await parley_chat(config_path, "hello\nagain\n", "--thread", kind)
    assert code == 0, err
    assert out.count("parley> Fine.") == 2, out
    assert "Traceback" not in err and "Something went wrong" not in out, err
    assert "usage" in err, "the discarded figures are logged"


PROSE = (
    "Put the plan in <think> tags.\n\n```python\nre.compile(r'<thinking>(.*?)</thinking>')\n```\n"
)


async def test_an_answer_about_think_tags_is_shown_and_stored_whole(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=(PROSE[:20], PROSE[20:50], PROSE[50:])))
    sink = await ask(runtime, "prose")
    assert sink.text == PROSE
    assert await stored_reply(runtime, "prose") == ("complete", PROSE, "")


async def test_reasoning_at_the_start_is_neither_shown_nor_stored(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=("<think>secret ", "plan</think>\n\n", "Hi <think> too")))
    sink = await ask(runtime, "reasoning")
    assert sink.text == "Hi <think> too"
    assert await stored_reply(runtime, "reasoning") == ("complete", "Hi <think> too", "")


async def test_parley_chat_says_what_the_provider_said(
    config_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = HOSTILE["error-body"]
    code, out, err = await parley_chat(config_path, "hello\n", "--thread", "overloaded")
    assert code == 0, err
    assert ProviderUnavailable.user_message in out
    assert OVERLOADED in err and "stream ended" not in err, err
    assert "Traceback" not in err
