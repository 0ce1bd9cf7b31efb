"""OpenAICompatibleClient with the real openai SDK against a wire-level fake on loopback."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from multidict import CIMultiDict

from core.errors import (
    BadCredentials,
    ContextTooLong,
    ModelRequestRejected,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from core.llm import (
    REPLY_ENDED,
    ModelClient,
    ModelEvent,
    ModelRequest,
    OpenAICompatibleClient,
    TextDelta,
    retry_after,
)
from core.model_http import HttpStatusError
from core.model_request import request_body
from core.types import ImagePart, PromptMessage, Usage
from tests.fakes.openai_server import FakeOpenAI, Script

HELLO = ModelRequest(model="fake-model", messages=(PromptMessage("user", "Hi"),))
KEY = "sk-test-0123456789"


@dataclass
class Bench:
    """The fake server plus a factory for clients aimed at it, all closed afterwards."""

    fake: FakeOpenAI
    clients: list[OpenAICompatibleClient] = field(default_factory=list)

    def client(self, **overrides: Any) -> OpenAICompatibleClient:
        options: dict[str, Any] = {"base_url": self.fake.base_url, "api_key": KEY, "timeout": 2.0}
        options |= {"max_retries": 2, "backoff_base": 0.01, **overrides}
        client = OpenAICompatibleClient(**options)
        self.clients.append(client)
        return client


@pytest.fixture
async def bench(fake_openai: FakeOpenAI) -> AsyncIterator[Bench]:
    bench = Bench(fake_openai)
    yield bench
    for client in bench.clients:
        await client.close()


async def collect(client: ModelClient, request: ModelRequest = HELLO) -> list[ModelEvent]:
    return [event async for event in client.stream(request)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_streams_text_then_usage_with_cached_tokens(bench: Bench) -> None:
    usage_sent = asyncio.Event()
    bench.fake.enqueue(
        Script(chunks=("Hel", "lo", " there"), usage=(12, 3, 5), release_usage=usage_sent)
    )
    events = []
    async for event in bench.client().stream(HELLO):
        events.append(event)
        usage_sent.set()  # the usage comes after the end was said, in a read of its own
    # Chunks that arrive in one network read come as one TextDelta.
    assert text_of(events) == "Hello there"
    assert all(isinstance(event, TextDelta) for event in events[:-2])
    assert events[-2:] == [REPLY_ENDED, Usage(12, 3, 5)]
    assert bench.fake.requests[0]["stream"] is True
    assert bench.fake.requests[0]["stream_options"] == {"include_usage": True}
    assert bench.fake.authorizations == [f"Bearer {KEY}"]


async def test_no_usage_chunk_means_no_usage_event(bench: Bench) -> None:
    bench.fake.enqueue(Script(usage=None))
    events = await collect(bench.client())
    assert text_of(events) == "Hello world" and events[-1] == REPLY_ENDED
    assert not [event for event in events if isinstance(event, Usage)]


async def test_request_body_carries_the_options_that_are_set(bench: Bench) -> None:
    request = ModelRequest(
        model="llama3.3",
        messages=(PromptMessage("system", "Be brief."), PromptMessage("user", "Hi")),
        temperature=0.2,
        top_p=0.9,
        max_tokens=256,
        reasoning_effort="low",
        frequency_penalty=0.5,
        presence_penalty=-0.25,
        stop=("###", "\nUser:"),
        seed=42,
        repeat_penalty=1.15,
    )
    await collect(bench.client(), request)
    body = bench.fake.requests[0]
    assert body["model"] == "llama3.3"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    options = {key: value for key, value in body.items() if key not in ("model", "messages")}
    assert options == {
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 256,
        "reasoning_effort": "low",
        "frequency_penalty": 0.5,
        "presence_penalty": -0.25,
        "stop": ["###", "\nUser:"],
        "seed": 42,
        "repeat_penalty": 1.15,
    }


async def test_unset_options_are_left_out(bench: Bench) -> None:
    await collect(bench.client())
    assert set(bench.fake.requests[0]) == {"model", "messages", "stream", "stream_options"}


async def test_zero_valued_options_are_sent_not_dropped(bench: Bench) -> None:
    # 0 is a setting (greedy sampling, no penalty, seed 0), not the absence of one.
    request = ModelRequest("m", HELLO.messages, temperature=0, frequency_penalty=0, seed=0)
    await collect(bench.client(), request)
    body = bench.fake.requests[0]
    assert (body["temperature"], body["frequency_penalty"], body["seed"]) == (0, 0, 0)


def test_openai_endpoint_gets_max_completion_tokens() -> None:
    body = request_body(ModelRequest("gpt-5", (), max_tokens=99), openai_endpoint=True)
    assert body.get("max_completion_tokens") == 99
    assert "max_tokens" not in body


async def test_images_go_as_data_urls_after_the_text(bench: Bench) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    message = PromptMessage("user", "What is this?", (ImagePart("image/png", png),))
    await collect(bench.client(), ModelRequest("fake-model", (message,)))
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    image = {"type": "image_url", "image_url": {"url": url}}
    expected = [{"type": "text", "text": "What is this?"}, image]
    assert bench.fake.requests[0]["messages"] == [{"role": "user", "content": expected}]


async def test_missing_api_key_sends_a_placeholder(bench: Bench) -> None:
    await collect(bench.client(api_key=None))
    assert bench.fake.authorizations == ["Bearer not-needed"]


async def test_rate_limit_waits_as_long_as_retry_after_says(bench: Bench) -> None:
    bench.fake.enqueue(Script(status=429, headers={"Retry-After": "0.1"}))
    started = time.monotonic()
    events = await collect(bench.client(backoff_base=0.0))
    assert time.monotonic() - started >= 0.1
    assert text_of(events) == "Hello world"
    assert len(bench.fake.requests) == 2


async def test_retry_after_is_capped(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    bench.fake.enqueue(Script(status=429, headers={"Retry-After": "30"}))
    with caplog.at_level(logging.WARNING, logger="core.llm"):
        await collect(bench.client(max_retry_wait=0.05))
    # The wait the client chose, as it logged it: counted, not clocked.
    (retry,) = [r for r in caplog.records if r.getMessage().startswith("model call failed")]
    assert retry.getMessage().startswith("model call failed, retrying in 0.05s")
    assert len(bench.fake.requests) == 2


async def test_rate_limit_that_persists_is_rate_limited(bench: Bench) -> None:
    bench.fake.default = Script(status=429, error_code="rate_limit_exceeded")
    with pytest.raises(RateLimited):
        await collect(bench.client(max_retries=1))
    assert len(bench.fake.requests) == 2


async def test_server_error_then_success(bench: Bench) -> None:
    bench.fake.enqueue(Script(status=500))
    assert text_of(await collect(bench.client())) == "Hello world"
    assert len(bench.fake.requests) == 2


async def test_unavailable_until_retries_run_out(bench: Bench) -> None:
    bench.fake.default = Script(status=503, error_message="overloaded")
    with pytest.raises(ProviderUnavailable, match="overloaded"):
        await collect(bench.client(max_retries=2))
    assert len(bench.fake.requests) == 3


async def test_slow_headers_time_out_after_retrying(bench: Bench) -> None:
    bench.fake.default = Script(delay_before_headers=1.0)
    with pytest.raises(ModelTimeout):
        await collect(bench.client(timeout=0.3, max_retries=1))
    assert len(bench.fake.requests) == 2


async def test_stall_before_first_chunk_is_retried(bench: Bench) -> None:
    bench.fake.enqueue(Script(delay_before_first_chunk=1.0))
    assert text_of(await collect(bench.client(timeout=0.3))) == "Hello world"
    assert len(bench.fake.requests) == 2


async def test_a_stall_after_text_times_out_as_an_interrupted_reply(bench: Bench) -> None:
    never = asyncio.Event()
    bench.fake.enqueue(Script(chunks=("one ", "two"), release_chunks=(never,)))
    seen: list[ModelEvent] = []
    with pytest.raises(StreamInterrupted, match=r"no bytes from the server for 0\.3s"):
        async for event in bench.client(timeout=0.3, max_retries=3).stream(HELLO):
            seen.append(event)
    assert text_of(seen) == "one " and len(bench.fake.requests) == 1


async def test_cancelling_a_read_stays_a_cancellation_not_a_timeout(bench: Bench) -> None:
    never = asyncio.Event()
    bench.fake.enqueue(Script(chunks=("one ", "two"), release_chunks=(never,)))
    first_text = asyncio.Event()

    async def read() -> None:
        async for _event in bench.client(timeout=0.3).stream(HELLO):
            first_text.set()

    reading = asyncio.create_task(read())
    await first_text.wait()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading


async def test_what_arrives_during_the_read_gap_comes_as_one_delta(bench: Bench) -> None:
    rest = asyncio.Event()
    words = ("one", " two", " three", " four", " five")
    bench.fake.enqueue(Script(chunks=words, release_chunks=(rest,) * 4))
    texts = []
    # A long gap, so the rest is surely all sent before the socket is read again.
    async for event in bench.client(read_gap=2.0).stream(HELLO):
        if isinstance(event, TextDelta):
            texts.append(event.text)
        rest.set()
    assert texts == ["one", " two three four five"]


async def test_the_first_words_are_read_at_once_however_long_the_read_gap(bench: Bench) -> None:
    role_sent, first_text = asyncio.Event(), asyncio.Event()
    bench.fake.enqueue(Script(chunks=("one",), role_sent=role_sent, release_first_text=first_text))
    stream = bench.client(read_gap=3600.0).stream(HELLO)
    reading = asyncio.ensure_future(anext(stream))
    await role_sent.wait()  # the role chunk carries no text: no gap may follow it
    first_text.set()
    assert await reading == TextDelta("one")
    await stream.aclose()


async def test_cut_after_text_is_interrupted_and_not_rerun(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=("one ", "two ", "three"), cut_after=2))
    seen: list[ModelEvent] = []
    with pytest.raises(StreamInterrupted):
        async for event in bench.client(max_retries=3).stream(HELLO):
            seen.append(event)
    assert text_of(seen) == "one two " and REPLY_ENDED not in seen
    assert len(bench.fake.requests) == 1


async def test_cut_before_any_text_is_retried(bench: Bench) -> None:
    bench.fake.enqueue(Script(cut_after=0))
    assert text_of(await collect(bench.client())) == "Hello world"
    assert len(bench.fake.requests) == 2


async def test_an_error_event_before_any_text_is_retried(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=(), stream_error="The server had an error."))
    assert text_of(await collect(bench.client())) == "Hello world"
    assert len(bench.fake.requests) == 2


async def test_an_error_event_after_text_interrupts_the_reply(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=("one ", "two"), stream_error="overloaded"))
    seen: list[ModelEvent] = []
    with pytest.raises(StreamInterrupted, match="overloaded"):
        async for event in bench.client(max_retries=3).stream(HELLO):
            seen.append(event)
    assert text_of(seen) == "one two" and REPLY_ENDED not in seen
    assert len(bench.fake.requests) == 1


async def test_stall_mid_stream_is_interrupted(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=("partial", " rest"), delay_between_chunks=1.0))
    with pytest.raises(StreamInterrupted):
        await collect(bench.client(timeout=0.3))
    assert len(bench.fake.requests) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("context_length_exceeded", "Too many tokens."),
        (None, "This model's maximum context length is 4096 tokens."),
    ],
)
async def test_context_too_long_is_not_retried(
    bench: Bench, code: str | None, message: str
) -> None:
    bench.fake.enqueue(Script(status=400, error_code=code, error_message=message))
    with pytest.raises(ContextTooLong):
        await collect(bench.client(max_retries=3))
    assert len(bench.fake.requests) == 1


async def test_wrong_key_is_bad_credentials_and_never_logged(bench: Bench) -> None:
    bench.fake.enqueue(Script(status=401, error_message=f"Incorrect API key: {KEY}"))
    with pytest.raises(BadCredentials) as caught:
        await collect(bench.client())
    assert KEY not in str(caught.value)
    assert "Incorrect API key" in str(caught.value)
    assert len(bench.fake.requests) == 1


async def test_key_the_server_does_not_know(bench: Bench) -> None:
    async with FakeOpenAI(api_key="sk-right") as fake:
        with pytest.raises(BadCredentials):
            await collect(bench.client(base_url=fake.base_url, api_key="sk-wrong"))
        assert fake.authorizations == ["Bearer sk-wrong"]


async def test_unknown_model_is_rejected(bench: Bench) -> None:
    bench.fake.enqueue(Script(status=404, error_code="model_not_found"))
    with pytest.raises(ModelRequestRejected):
        await collect(bench.client())
    assert len(bench.fake.requests) == 1


async def test_connection_refused_is_unavailable(bench: Bench) -> None:
    client = bench.client(base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=1)
    with pytest.raises(ProviderUnavailable):
        await collect(client)


async def test_think_blocks_never_leave_the_client(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=("<th", "ink>secret plan</th", "ink>\n\nAnswer", " <thi")))
    events = await collect(bench.client())
    assert text_of(events) == "Answer <thi"
    assert all("secret" not in event.text for event in events if isinstance(event, TextDelta))


async def test_abandoned_stream_is_cleaned_up(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=("a", "b", "c"), delay_between_chunks=0.05))
    client = bench.client()
    async with contextlib.aclosing(client.stream(HELLO)) as events:
        async for event in events:
            assert event == TextDelta("a")
            break
    assert text_of(await collect(client)) == "Hello world"


def rate_limit_error(headers: dict[str, str]) -> HttpStatusError:
    # Case-insensitive, as aiohttp hands a response's headers over.
    return HttpStatusError(429, CIMultiDict(headers), '{"error": {"message": "slow down"}}')


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_every_form(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(rate_limit_error(headers)) == expected


def test_retry_after_reads_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert retry_after(rate_limit_error({"Retry-After": when})) == pytest.approx(10, abs=1.5)


R1_REPLY = ("Okay, the user", " says hi.\n</th", "ink>\n\nHello", "!")


def asking(model: str) -> ModelRequest:
    return ModelRequest(model=model, messages=HELLO.messages)


async def test_a_raw_reasoning_model_shows_only_its_answer(bench: Bench) -> None:
    bench.fake.enqueue(Script(chunks=R1_REPLY))
    events = await collect(bench.client(), asking("deepseek-r1-distill-qwen-7b"))
    assert text_of(events) == "Hello!"


async def test_a_model_seen_reasoning_bare_is_filtered_from_then_on(bench: Bench) -> None:
    client = bench.client()
    bench.fake.enqueue(Script(chunks=R1_REPLY), Script(chunks=R1_REPLY))
    # Its first reply streamed before the bare tag could be recognised: that reply is
    # shown as the model wrote it, minus nothing; the next one is filtered.
    assert "</think>" in text_of(await collect(client, asking("house-model")))
    assert text_of(await collect(client, asking("house-model"))) == "Hello!"


async def test_a_guessed_reasoner_that_answers_plainly_streams_again(bench: Bench) -> None:
    client = bench.client()
    bench.fake.enqueue(Script(chunks=("Plain", " answer")))
    first = await collect(client, asking("qwq-32b"))
    assert [e for e in first if isinstance(e, TextDelta)] == [TextDelta("Plain answer")]
    answer = asyncio.Event()
    bench.fake.enqueue(Script(chunks=("Plain", " answer"), release_chunks=(answer,)))
    second = []
    async for event in client.stream(asking("qwq-32b")):
        second.append(event)
        answer.set()  # " answer" is sent only once "Plain" was streamed
    assert [e for e in second if isinstance(e, TextDelta)] == [
        TextDelta("Plain"),
        TextDelta(" answer"),
    ]


async def test_tags_inside_an_answer_reach_the_user(bench: Bench) -> None:
    text = "Use `re.compile(r'<thinking>.*')`; <think> is just a word here."
    bench.fake.enqueue(Script(chunks=(text[:20], text[20:])))
    assert text_of(await collect(bench.client())) == text


async def test_an_error_body_with_status_200_is_retried_in_its_own_words(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    bench.fake.enqueue(Script(body='{"error": {"message": "upstream overloaded"}}'))
    assert text_of(await collect(bench.client())) == "Hello world"
    assert "upstream overloaded" in caplog.text and len(bench.fake.requests) == 2


async def test_an_empty_200_says_so(bench: Bench) -> None:
    bench.fake.default = Script(body="")
    with pytest.raises(ProviderUnavailable, match="empty body"):
        await collect(bench.client(max_retries=0))


async def test_a_non_streamed_completion_with_absurd_usage_is_still_the_answer(
    bench: Bench,
) -> None:
    bench.fake.enqueue(Script(chunks=("Whole",), usage=(10**23, 1, 0), ignore_stream=True))
    events = await collect(bench.client())
    assert events == [TextDelta("Whole"), REPLY_ENDED]
