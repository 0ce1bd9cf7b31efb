"""HTTP mode's events server: bolt's aiohttp app behind limits a hostile client cannot wear out."""

from __future__ import annotations

import asyncio
import logging
import resource
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestHandler

from bots.slack.config import SlackHttpConfig
from core.errors import ParleyError

log = logging.getLogger(__name__)

# A flood is told once per this interval, with a count: never one line per connection.
REFUSAL_LOG_INTERVAL_SECONDS = 60.0


class ConnectionCap:
    """At most `limit` open connections. Past it the oldest one with no request in progress
    (half-sent headers, an idle keep-alive) is closed for the newcomer: 1,100 connections
    that sent a request line and stopped held every file descriptor, and Slack's real events
    and /healthz went unanswered. Only when all are busy is the newcomer turned away."""

    def __init__(self, server: web.Server, *, limit: int, bot: str) -> None:
        self._server = server
        self._limit = limit
        self._bot = bot
        self._closed = 0
        self._told_at: float | None = None

    def __call__(self) -> asyncio.BaseProtocol:
        live = [handler for handler in self._server.connections if handler.transport is not None]
        if len(live) >= self._limit:
            idle = [handler for handler in live if not _busy(handler)]
            self._note_closed()
            if not idle:
                return _Refused()
            idle[0].force_close()
        return self._server()

    def _note_closed(self) -> None:
        self._closed += 1
        now = time.monotonic()
        if self._told_at is not None and now - self._told_at < REFUSAL_LOG_INTERVAL_SECONDS:
            return
        log.warning(
            "slack bot %s: %d connection(s) closed at the cap of %d open connections "
            "(http.max_connections); a client is holding connections open",
            self._bot,
            self._closed,
            self._limit,
        )
        self._told_at, self._closed = now, 0


def connection_limit(configured: int) -> int:
    """The configured cap, or half the process's file descriptors if that is lower: the
    other half is for the store, the model's and Slack's connections, /healthz and logs."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or configured <= soft // 2:
        return configured
    log.warning(
        "slack: http.max_connections %d is over half the %d file descriptors this process "
        "may open; using %d",
        configured,
        soft,
        soft // 2,
    )
    return max(1, soft // 2)


def _busy(handler: RequestHandler) -> bool:
    # aiohttp keeps no public flag for it; a request being answered must not be cut off.
    return bool(handler._request_in_progress)


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class CappedSite(web.TCPSite):
    """A TCPSite whose connections go through a ConnectionCap."""

    def __init__(self, runner: web.AppRunner, config: SlackHttpConfig, *, bot: str) -> None:
        super().__init__(runner, config.host, config.port)
        self._cap_limit = connection_limit(config.max_connections)
        self._bot = bot

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; TCPSite's own would bind uncapped
        server = self._runner.server
        if server is None:
            raise ParleyError("the Slack events server was not set up")
        cap = ConnectionCap(server, limit=self._cap_limit, bot=self._bot)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(cap, self._host, self._port)


def body_deadline(seconds: float) -> Middleware:
    """408 for a body that has not fully arrived in `seconds`. aiohttp's keep-alive timer,
    set to http.header_timeout_seconds, closes connections whose headers never complete."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST":
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # read once; aiohttp keeps it for bolt
            except TimeoutError:
                log.warning("slack: an events request's body did not arrive in %ss", seconds)
                raise web.HTTPRequestTimeout() from None
        return await handler(request)

    return middleware


@web.middleware
async def refuse_garbled_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 for a timestamp that is not a number or a body that is not UTF-8: bolt's signature
    check would crash on them and answer 500, inviting retries of a request never valid."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if request.method == "POST":
        garbled = not (stamp.isascii() and stamp.isdigit())
        try:
            (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            garbled = True
        if garbled:
            return web.json_response({"error": "invalid request"}, status=401)
    return await handler(request)
