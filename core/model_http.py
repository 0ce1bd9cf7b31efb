"""The HTTP side of an OpenAI-compatible server, on aiohttp rather than the openai SDK.

The SDK's HTTP stack (httpx, httpcore, anyio) spent most of a streamed reply's CPU on
per-read event handling and per-read timeouts. Parley parses the stream itself (core.chunks)
and retries itself (core.llm), so all it needs is a request, the status and the bytes.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

import aiohttp

from core.model_request import JsonValue

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but some proxies insist on one.
_NO_KEY = "not-needed"
# The SDK's pool size: bench.load keeps a connection open per conversation in flight.
_MAX_CONNECTIONS = 1000

T = TypeVar("T")
# After each read that carried text, the socket is left unread this long, so the chunks
# that come meanwhile (a model sends one every 10-20 ms) arrive as one read. Each read costs
# a wake-up of the process, the event loop, aiohttp and the parsing: per chunk that was most
# of a streamed turn's CPU. The user sees text no later than the reply's edits would show
# it anyway (they go out about once a second); the end of a reply is read at most this late,
# which keeps the final text within 50 ms of the stream's end.
READ_GAP_SECONDS = 0.04


class HttpStatusError(Exception):
    """The server answered with a status outside 2xx; `body` is its text as sent."""

    def __init__(self, status: int, headers: Mapping[str, str], body: str) -> None:
        super().__init__(f"Error code: {status} - {body.strip()}")
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def error(self) -> object:
        """The body's error object (OpenAI's shape), the whole JSON body, or its text."""
        try:
            parsed: object = json.loads(self.body)
        except ValueError:
            return self.body.strip()
        return parsed.get("error", parsed) if isinstance(parsed, dict) else parsed


class StreamedError(Exception):
    """An error object the server sent inside a 200 stream, in the server's words."""

    def __init__(self, error: dict[str, object]) -> None:
        super().__init__(str(error.get("message") or error))
        self.error = error


def base_url_or_default(base_url: str | None) -> str:
    # As the SDK did: no base_url means OPENAI_BASE_URL, else OpenAI's own.
    return (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL).rstrip("/")


class ModelHttp:
    """One aiohttp session per client, opened on first use inside the running loop."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        read_gap: float = READ_GAP_SECONDS,
    ) -> None:
        self._read_gap = read_gap
        self._base_url = base_url_or_default(base_url)
        self._authorization = f"Bearer {api_key or _NO_KEY}"
        # As openai.Timeout(timeout): one number bounds the connect (a pool slot included)
        # and every wait for bytes (a Stall, not aiohttp's sock_read), so a stall mid-stream
        # is caught; a long reply is not cut.
        self._read_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=_MAX_CONNECTIONS),
                timeout=self._timeout,
                # As the SDK (httpx) did: HTTPS_PROXY, NO_PROXY and the like are honoured.
                trust_env=True,
            )
        return self._session

    @contextlib.asynccontextmanager
    async def post(self, path: str, body: dict[str, JsonValue]) -> AsyncIterator[StreamedBody]:
        """The body of a streamed POST; a status outside 2xx raises HttpStatusError."""
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        data = json.dumps(body).encode()
        with Stall(self._read_seconds) as stall:
            sent = self._open().post(self._url(path), data=data, headers=headers)
            async with await stall.wait(sent) as response:
                await stall.wait(_raise_for_status(response))
                yield StreamedBody(response, stall, self._read_gap)

    async def get_json(self, path: str) -> object:
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        with Stall(self._read_seconds) as stall:
            sent = self._open().get(self._url(path), headers=headers)
            async with await stall.wait(sent) as response:
                await stall.wait(_raise_for_status(response))
                return json.loads(await stall.wait(response.text(errors="replace")))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        return f"{self._base_url}/{path}"


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if not 200 <= response.status < 300:
        body = await response.text(errors="replace")
        raise HttpStatusError(response.status, response.headers, body)


class Stall:
    """Turns a wait of `seconds` without bytes from the server into TimeoutError.

    aiohttp's own read timeout (sock_read) cancels and re-arms a timer on every network
    read, a quarter of a streamed reply's CPU; this keeps one timer per `seconds` and looks,
    when it fires, at how long the current wait has lasted.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None  # None: the reader is not waiting
        self._fired = False

    def __enter__(self) -> Stall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def wait(self, awaitable: Awaitable[T]) -> T:
        self._waiting_since = now = self._loop.time()
        self._task = asyncio.current_task()
        if self._timer is None:
            self._timer = self._loop.call_at(now + self._seconds, self._check)
        try:
            return await awaitable
        except asyncio.CancelledError:
            # Ours only if this task was cancelled by nobody else: a shutdown stays one.
            if self._fired and self._task is not None and self._task.uncancel() == 0:
                self._fired = False
                raise TimeoutError(f"no bytes from the server for {self._seconds:g}s") from None
            raise
        finally:
            self._waiting_since = None

    def _check(self) -> None:
        self._timer = None
        if self._waiting_since is None or self._task is None:
            return  # the reader is busy with what came: its next wait arms a timer again
        due = self._waiting_since + self._seconds
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._check)
            return
        # The reader is suspended inside `wait` (this callback only runs while it is), so
        # the cancellation lands there and becomes the TimeoutError.
        self._fired = True
        self._task.cancel()


class StreamedBody:
    """A streamed response's body, read through its Stall."""

    def __init__(self, response: aiohttp.ClientResponse, stall: Stall, gap: float) -> None:
        self.response = response
        self._stall = stall
        self._gap = gap

    async def pieces(self) -> AsyncIterator[str]:
        """The body as text, all that came in per read; a character split across reads
        waits for its end. The reader calls `gather` to let the next read collect more."""
        decoder = codecs.getincrementaldecoder(_charset(self.response))(errors="replace")
        content = self.response.content
        try:
            while True:
                data = await self._stall.wait(content.readany())
                if not data:
                    break
                text = decoder.decode(data)
                if text:
                    yield text
        except aiohttp.ClientPayloadError:
            # A cut connection: what arrived before the cut is still the reply's (shown as a
            # partial one), but aiohttp raises before handing over bytes it already holds.
            yield decoder.decode(_received_before_cut(content), final=True)
            raise
        rest = decoder.decode(b"", final=True)
        if rest:
            yield rest

    async def gather(self) -> None:
        """Leaves the socket unread for the read gap: what arrives waits in the kernel."""
        seconds = self._gap
        connection = self.response.connection
        transport = connection.transport if connection is not None else None
        if transport is None or seconds <= 0:
            return  # the body is all in: aiohttp has let the connection go
        transport.pause_reading()
        try:
            await asyncio.sleep(seconds)
        finally:
            # Always: a connection back in the pool while paused would hang its next request.
            transport.resume_reading()


def _charset(response: aiohttp.ClientResponse) -> str:
    charset = response.charset or "utf-8"
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"


def _received_before_cut(content: aiohttp.StreamReader) -> bytes:
    """The bytes aiohttp received before the connection broke and the reader failed."""
    failure = content.exception()
    content._exception = None  # its only way: every read raises the failure first
    try:
        return content.read_nowait()
    finally:
        content._exception = failure
