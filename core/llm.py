"""Streams replies from OpenAI-compatible servers over aiohttp (core.model_http), with Parley's
own retries, error translation and think filtering."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncGenerator
from urllib.parse import urlsplit

import aiohttp

from core.chunks import EventReader, LineSplitter, MalformedChunk, parse_body
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
from core.model_events import REPLY_ENDED as REPLY_ENDED
from core.model_events import ModelClient as ModelClient  # re-exported: the port
from core.model_events import ModelEvent as ModelEvent
from core.model_events import ReplyEnded as ReplyEnded
from core.model_events import TextDelta as TextDelta
from core.model_events import ToolCallsRequested as ToolCallsRequested
from core.model_http import READ_GAP_SECONDS, HttpStatusError, ModelHttp, StreamedError
from core.model_request import JsonValue, request_body
from core.model_request import ModelRequest as ModelRequest  # the port's type, re-exported
from core.streamed_reply import StreamedReply
from core.think import ThinkFilter, ends_reasoning_bare

log = logging.getLogger(__name__)

# OpenAI's code, and llama.cpp's error type, for a prompt longer than the model's window.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
# What the server, the HTTP layer and a garbled stream can raise; anything else is a bug.
# aiohttp's read and connect timeouts are TimeoutErrors (and ClientErrors).
_TRANSLATABLE = (
    HttpStatusError,
    StreamedError,
    aiohttp.ClientError,
    TimeoutError,
    json.JSONDecodeError,
    MalformedChunk,
)
# Models whose chat template opens the reasoning block itself, so served raw they print
# reasoning, then a bare </think>: their replies are held until that tag from the first.
_REASONS_FIRST = re.compile(r"deepseek-r1|(?:^|[-_/:])r1(?:$|[-_/:.])|qwq|thinking", re.IGNORECASE)


_SHOWN = (TextDelta, ToolCallsRequested, ReplyEnded)


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


def _is_context_error(error: object, message: str) -> bool:
    """`error` is the server's error object: its code or type, or its words, say so."""
    fields = (error.get("code"), error.get("type")) if isinstance(error, dict) else ()
    return (
        any(isinstance(field, str) and field in _CONTEXT_CODES for field in fields)
        or "maximum context length" in message.lower()
    )


def _status_error(exc: HttpStatusError, detail: str) -> ModelError:
    status = exc.status
    if status == 429:
        return RateLimited(detail)
    if status >= 500:
        return ProviderUnavailable(detail)
    if status == 408:
        return ModelTimeout(detail)
    if status in (401, 403):
        return BadCredentials(detail)
    if _is_context_error(exc.error, str(exc)):
        return ContextTooLong(detail)
    return ModelRequestRejected(detail)


def translate_error(exc: BaseException, *, secret: str | None = None) -> ModelError:
    """The Parley error for an HTTP or stream failure; `secret` is scrubbed from it."""
    detail = _detail(exc, secret)
    if isinstance(exc, TimeoutError):
        return ModelTimeout(detail)
    if isinstance(exc, HttpStatusError):
        return _status_error(exc, detail)
    if isinstance(exc, StreamedError) and _is_context_error(exc.error, str(exc)):
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
    if not isinstance(exc, HttpStatusError):
        return None
    headers = exc.headers
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

    Retries are Parley's own: only it can tell whether text already reached the user,
    and re-running a stream after that would show the reply twice.
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
        read_gap: float = READ_GAP_SECONDS,
    ) -> None:
        self._openai_endpoint = _is_openai(base_url)
        self._secret = api_key
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._max_retry_wait = max_retry_wait
        self._http = ModelHttp(
            base_url=base_url, api_key=api_key, timeout=timeout, read_gap=read_gap
        )
        # Per model: does it start with bare reasoning? Guessed from the name, then learnt
        # from each reply, so a wrong guess costs streaming for one reply only.
        self._reasons_first: dict[str, bool] = {}

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        body = request_body(request, openai_endpoint=self._openai_endpoint)
        for attempt in range(self._max_retries + 1):
            shown_text = False
            try:
                async with contextlib.aclosing(self._attempt(request.model, body)) as events:
                    async for event in events:
                        # Nothing shown, ended or handed over to run tools is run again:
                        # the user would see it twice, the tools would run twice.
                        shown_text = shown_text or isinstance(event, _SHOWN)
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
            return _model_ids(await self._http.get_json("models"))
        except _TRANSLATABLE as exc:
            raise translate_error(exc, secret=self._secret) from exc

    async def close(self) -> None:
        await self._http.close()

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
        learn = functools.partial(self._learn, model, first)
        reply = StreamedReply(ThinkFilter(reasoning_first=first), learn)
        streamed: dict[str, JsonValue] = {
            **body,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        async with self._http.post("chat/completions", streamed) as response:
            lines, reader = LineSplitter(), EventReader()
            # One pass per network read: the chunks it carried become one TextDelta.
            async for piece in response.pieces():
                shown = False
                for event in reply.read(reader.feed_lines(lines.feed(piece))):
                    shown = shown or isinstance(event, TextDelta)
                    yield event
                if reply.done:
                    break
                if shown:
                    # Not before the first words: they go out the moment they come.
                    await response.gather()
            else:
                last = [*reader.feed_lines(lines.end()), reader.end()]
                for event in reply.read([data for data in last if data is not None]):
                    yield event
            if not reply.events and reader.stray:
                # No stream at all: a non-streamed completion is the answer; an error
                # object or a page says in the provider's words what went wrong.
                for event in reply.read_body(parse_body(reader.stray)):
                    yield event
        if not reply.finished:
            raise _EndedEarlyError(
                "the stream ended before the model finished its reply"
                if reply.events or reader.stray
                else "the provider answered with an empty body"
            )
        if reply.usage is not None and reply.usage != reply.usage_said:
            yield reply.usage

    def _learn(self, model: str, first: bool, think: ThinkFilter, shown: str) -> None:
        """Whether this model starts its replies with bare reasoning, for its next reply."""
        self._reasons_first[model] = think.closed_bare or (not first and ends_reasoning_bare(shown))


def _model_ids(listing: object) -> list[str]:
    """The ids in a GET /models answer ({"data": [{"id": ...}, ...]})."""
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list):
        raise MalformedChunk(f"the model list is not an OpenAI one: {str(listing)[:200]}")
    return [str(model["id"]) for model in data if isinstance(model, dict) and "id" in model]
