"""The HTTP side of an OpenAI-compatible server, on aiohttp rather than the openai SDK.

The SDK's HTTP stack (httpx, httpcore, anyio) spent most of a streamed reply's CPU on
per-read event handling and per-read timeouts. Parley parses the stream itself (core.chunks)
and retries itself (core.llm), so all it needs is a request, the status and the bytes.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping

import aiohttp

from core.model_request import JsonValue

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but some proxies insist on one.
_NO_KEY = "not-needed"
# The SDK's pool size: bench.load keeps a connection open per conversation in flight.
_MAX_CONNECTIONS = 1000


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

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float) -> None:
        self._base_url = base_url_or_default(base_url)
        self._authorization = f"Bearer {api_key or _NO_KEY}"
        # As openai.Timeout(timeout): one number bounds the connect (a pool slot included)
        # and every read, so a stall mid-stream is caught; a long reply is not cut.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
        )
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
    async def post(
        self, path: str, body: dict[str, JsonValue]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to a streamed POST; a status outside 2xx raises HttpStatusError."""
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        data = json.dumps(body).encode()
        async with self._open().post(self._url(path), data=data, headers=headers) as response:
            await _raise_for_status(response)
            yield response

    async def get_json(self, path: str) -> object:
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        async with self._open().get(self._url(path), headers=headers) as response:
            await _raise_for_status(response)
            return json.loads(await response.text(errors="replace"))

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


async def text_pieces(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The body as text, one piece per HTTP chunk (as the server flushed it) or, unchunked,
    per network read; a character split across pieces waits for its end."""
    decoder = codecs.getincrementaldecoder(_charset(response))(errors="replace")
    # Per HTTP chunk, not all that is buffered: a reply's text reaches the user piece by
    # piece as the server sent it, however late the reader gets to it.
    try:
        async for data, _ in response.content.iter_chunks():
            text = decoder.decode(data)
            if text:
                yield text
    except aiohttp.ClientPayloadError:
        # A cut connection: what arrived before the cut is still the reply's (shown as a
        # partial one), but aiohttp raises before handing over bytes it already holds.
        yield decoder.decode(_received_before_cut(response.content), final=True)
        raise
    rest = decoder.decode(b"", final=True)
    if rest:
        yield rest


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
