"""A bare HTTP/1.1 server on 127.0.0.1 whose chunked SSE bodies a test writes byte by byte.

aiohttp's server frames and flushes writes its own way; these tests need the exact bytes and
their timing: a CR at the end of one read, a reset in the middle of a reply, a reply whose
end and the next request share one kept-alive connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

Answer = Callable[["RawReply"], Awaitable[None]]


def chunk_event(text: str, finish: str | None = None) -> bytes:
    """One Chat Completions chunk as an SSE event, without its line ends."""
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return b"data: " + json.dumps({"choices": [choice]}).encode()


class RawReply:
    """The connection a request came on: the test writes the body's chunks through it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, data: bytes) -> None:
        """One HTTP chunk holding `data`."""
        self._writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await self._writer.drain()

    async def end(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    def reset(self) -> None:
        """An RST, not a FIN: what a dropped connection looks like."""
        sock = self._writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    def half_close(self) -> None:
        """A FIN after what was sent: the server will write no more."""
        self._writer.write_eof()


class RawSSEServer:
    """Answers each POST with 200 text/event-stream, chunked, then hands it to `answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests = 0
        self.writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:  # keep-alive: one request after another on this connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.requests += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                await self.answer(RawReply(writer))
        writer.close()


@contextlib.asynccontextmanager
async def raw_sse_server(answer: Answer) -> AsyncIterator[RawSSEServer]:
    server = RawSSEServer(answer)
    server._server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server._server.close()
        for writer in server.writers:  # 3.11's Server.close leaves accepted ones open
            writer.close()
        await server._server.wait_closed()
