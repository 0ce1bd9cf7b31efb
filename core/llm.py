"""Streams replies from OpenAI-compatible servers; the only module in core that imports openai."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from urllib.parse import urlsplit

import httpx2
import openai

from core.chunks import DONE, Chunk, EventReader, MalformedChunk, parse_body, parse_chunk, sse_lines
from core.errors import (
    BadCredentials,
    ContextTooLong,
    ModelError,
    ModelRequestRejected,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from core.model_events import ModelClient as ModelClient  # re-exported: the port
from core.model_events import ModelEvent as ModelEvent
from core.model_events import TextDelta as TextDelta
from core.model_request import JsonValue, request_body
from core.model_request import ModelRequest as ModelRequest  # the port's type, re-exported
from core.think import ThinkFilter, ends_reasoning_bare
from core.types import Usage

log = logging.getLogger(__name__)

# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but the SDK insists on one.
_NO_KEY = "not-needed"
# OpenAI's code, and llama.cpp's error type, for a prompt longer than the model's window.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
# What the SDK, its HTTP layer and a garbled stream can raise; anything else is a bug.
_TRANSLATABLE = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, MalformedChunk)
# Models whose chat template opens the reasoning block itself, so served raw they print
# reasoning, then a bare </think>: their replies are held until that tag from the first.
_REASONS_FIRST = re.compile(r"deepseek-r1|(?:^|[-_/:])r1(?:$|[-_/:.])|qwq|thinking", re.IGNORECASE)


class _EndedEarlyError(Exception):
    """The body ended cleanly but before the model said it had finished."""


def _detail(exc: BaseException, secret: str | None) -> str:
    detail = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if cause is not None and str(cause):
        detail += f" ({type(cause).__name__}: {cause})"
    # Some providers echo a rejected key in their message; logs must not get it. Short
    # placeholders ("x" for a local server) are no secret, and scrubbing them mangles text.
    return detail.replace(secret, "***") if secret and len(secret) >= 8 else detail


def _is_context_error(exc: openai.APIError) -> bool:
    return (
        exc.code in _CONTEXT_CODES
        or exc.type in _CONTEXT_CODES
        or "maximum context length" in exc.message.lower()
    )


def _status_error(exc: openai.APIStatusError, detail: str) -> ModelError:
    status = exc.status_code
    if status == 429:
        return RateLimited(detail)
    if status >= 500:
        return ProviderUnavailable(detail)
    if status == 408:
        return ModelTimeout(detail)
    if status in (401, 403):
        return BadCredentials(detail)
    if _is_context_error(exc):
        return ContextTooLong(detail)
    return ModelRequestRejected(detail)


def translate_error(exc: BaseException, *, secret: str | None = None) -> ModelError:
    """The Parley error for an SDK, HTTP or stream failure; `secret` is scrubbed from it."""
    detail = _detail(exc, secret)
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return ModelTimeout(detail)
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, detail)
    if isinstance(exc, openai.APIError) and _is_context_error(exc):
        return ContextTooLong(detail)
    # Connection failures, cut streams and errors sent inside a stream all mean the
    # provider could not deliver this time; another attempt may well succeed.
    return ProviderUnavailable(detail)


def _seconds(value: str, scale: float) -> float | None:
    try:
        seconds = float(value) * scale
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def retry_after(exc: BaseException) -> float | None:
    """How long the server asked us to wait before retrying, if it said."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    millis = _seconds(headers.get("retry-after-ms", ""), 0.001)
    if millis is not None:
        return millis
    value = headers.get("retry-after", "")
    seconds = _seconds(value, 1.0)
    if seconds is not None or not value:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _is_openai(base_url: str | None) -> bool:
    return base_url is None or urlsplit(base_url).hostname == "api.openai.com"


class OpenAICompatibleClient:
    """A ModelClient for one provider, with Parley's own retry policy.

    The SDK's retries are off: it cannot tell whether text already reached the
    user, and re-running a stream after that would show the reply twice.
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        backoff_base: float = 0.5,
        max_retry_wait: float = 20.0,
    ) -> None:
        self._openai_endpoint = _is_openai(base_url)
        self._secret = api_key
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._max_retry_wait = max_retry_wait
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            # One number bounds the connect and every read, so a stall mid-stream is caught.
            timeout=openai.Timeout(timeout),
            max_retries=0,
        )
        # Per model: does it start with bare reasoning? Guessed from the name, then learnt
        # from each reply, so a wrong guess costs streaming for one reply only.
        self._reasons_first: dict[str, bool] = {}
        # The SDK imports its chat resources on first use (~30 ms): pay it at start-up.
        _ = self._client.chat.completions

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        body = request_body(request, openai_endpoint=self._openai_endpoint)
        for attempt in range(self._max_retries + 1):
            shown_text = False
            try:
                async with contextlib.aclosing(self._attempt(request.model, body)) as events:
                    async for event in events:
                        shown_text = shown_text or isinstance(event, TextDelta)
                        yield event
                return
            except (*_TRANSLATABLE, _EndedEarlyError) as exc:
                error = translate_error(exc, secret=self._secret)
                if shown_text:
                    raise StreamInterrupted(str(error)) from exc
                if not error.retryable or attempt == self._max_retries:
                    raise error from exc
                wait = self._retry_wait(attempt, retry_after(exc))
                log.warning("model call failed, retrying in %.2fs: %s", wait, error)
                await asyncio.sleep(wait)

    async def list_models(self) -> list[str]:
        """The model names the provider offers (GET /models), for `parley check --probe`."""
        try:
            return [model.id async for model in self._client.models.list()]
        except _TRANSLATABLE as exc:
            raise translate_error(exc, secret=self._secret) from exc

    async def close(self) -> None:
        await self._client.close()

    def _retry_wait(self, attempt: int, asked: float | None) -> float:
        if asked is not None:
            return min(max(asked, 0.0), self._max_retry_wait)
        # Jitter keeps clients that failed together from retrying in lockstep.
        backoff = self._backoff_base * 2.0**attempt * (1 + random.uniform(0, 0.25))
        return min(backoff, self._max_retry_wait)

    async def _attempt(
        self, model: str, body: dict[str, JsonValue]
    ) -> AsyncGenerator[ModelEvent, None]:
        """One request; a fresh filter each time, as a retry starts the reply over."""
        first = self._reasons_first.get(model, _REASONS_FIRST.search(model) is not None)
        reply = _Reply(ThinkFilter(reasoning_first=first))
        # The body goes whole as extra_body, which the SDK merges into the JSON untouched:
        # its typed arguments would walk every message through a TypedDict transform (~9 ms
        # of CPU for a 20-message thread, growing with history, blocking every other
        # conversation), and they do not know llama.cpp's own settings. The raw body is
        # read by core.chunks, not built into SDK objects.
        request = self._client.chat.completions.with_streaming_response.create(
            model=model,
            messages=[],
            stream=True,
            stream_options={"include_usage": True},
            extra_body=body,
        )
        async with request as response:
            reader = EventReader()
            events = 0
            lines = sse_lines(response.iter_text())
            async for line in _with_end(lines):
                data = reader.feed(line) if line is not None else reader.end()
                if data is None:
                    continue
                if data == DONE:
                    break
                events += 1
                visible = reply.take(parse_chunk(data), response.http_request)
                if visible:
                    yield TextDelta(visible)
            if not events and reader.stray:
                # No stream at all: a non-streamed completion is the answer; an error
                # object or a page says in the provider's words what went wrong.
                visible = reply.take(parse_body(reader.stray), response.http_request)
                if visible:
                    yield TextDelta(visible)
        if not reply.finished:
            raise _EndedEarlyError(
                "the stream ended before the model finished its reply"
                if events or reader.stray
                else "the provider answered with an empty body"
            )
        self._reasons_first[model] = reply.think.closed_bare or (
            not first and ends_reasoning_bare("".join(reply.shown))
        )
        tail = reply.think.flush()
        if tail:
            yield TextDelta(tail)
        if reply.usage is not None:
            yield reply.usage


class _Reply:
    """What one attempt has gathered from the chunks so far."""

    def __init__(self, think: ThinkFilter) -> None:
        self.think = think
        self.usage: Usage | None = None
        self.finished = False
        self.shown: list[str] = []  # to learn whether the model reasons bare
        self._doubted_usage = False

    def take(self, chunk: Chunk, http_request: httpx2.Request) -> str:
        """The chunk's visible text; an error the server sent raises in its own words."""
        if chunk.error is not None:
            raise openai.APIError(
                str(chunk.error.get("message") or chunk.error), http_request, body=chunk.error
            )
        if chunk.bad_usage and not self._doubted_usage:
            # Once per reply: some servers repeat usage on every chunk. Parley then counts
            # the turn with its own tokenizer, as for a server that reports none.
            self._doubted_usage = True
            log.warning("model usage not believable, counted by Parley: %s", chunk.bad_usage)
        self.usage = chunk.usage or self.usage
        self.finished = self.finished or chunk.finished
        visible = self.think.feed(chunk.text)
        self.shown.append(visible)
        return visible


async def _with_end(lines: AsyncIterator[str]) -> AsyncGenerator[str | None, None]:
    """The body's lines, then None: a last event need not end with a blank line."""
    async for line in lines:
        yield line
    yield None
