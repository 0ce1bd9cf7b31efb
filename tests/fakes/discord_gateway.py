"""The gateway side of a fake Discord: hello, heartbeats, identify, resume, dispatch and replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_payloads import Payload

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0, 1, 2, 6, 7, 9, 10, 11,
)  # fmt: skip
# Close codes Discord uses for a bad token and a second IDENTIFY on one connection.
AUTHENTICATION_FAILED, ALREADY_AUTHENTICATED, DECODE_ERROR = 4004, 4005, 4002

# READY and the GUILD_CREATEs that follow it, for a new session id.
ReadyBuilder = Callable[[str, int], tuple[Payload, list[Payload]]]


@dataclass
class GatewaySession:
    """A session outlives its connections; its dispatches are kept so RESUME can replay them."""

    id: str
    intents: int
    seq: int = 0
    history: list[Payload] = field(default_factory=list)

    def frame(self, event: str, data: Any) -> Payload:
        self.seq += 1
        frame: Payload = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.history.append(frame)
        return frame


class GatewayConnection:
    """One WebSocket; with zlib-stream every frame goes through one compressor, sync-flushed."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool, path: str) -> None:
        self.ws = ws
        self.path = path
        self.session: GatewaySession | None = None
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def send(self, frame: Payload) -> None:
        text = json.dumps(frame)
        # The lock keeps compressor order and wire order the same.
        async with self._lock:
            if self.ws.closed:
                return
            with contextlib.suppress(ConnectionError):
                if self._compressor is None:
                    await self.ws.send_str(text)
                else:
                    data = self._compressor.compress(text.encode())
                    data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)


class GatewayServer:
    """Serves the gateway WebSocket; one current (identified or resumed) connection at a time."""

    def __init__(self, token: str, build_ready: ReadyBuilder, heartbeat_interval_ms: int) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self.connections: list[str] = []
        self.received: list[Payload] = []
        self.session: GatewaySession | None = None
        self._build_ready = build_ready
        self._sessions: dict[str, GatewaySession] = {}
        self._open: set[GatewayConnection] = set()
        self._current: GatewayConnection | None = None
        self._ready = asyncio.Event()
        self._session_started = asyncio.Event()

    @property
    def intents(self) -> int:
        return 0 if self.session is None else self.session.intents

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        conn = GatewayConnection(ws, compress == "zlib-stream", request.path_qs)
        self.connections.append(request.path_qs)
        if compress not in (None, "zlib-stream") or request.query.get("encoding", "json") != "json":
            await ws.close(code=DECODE_ERROR, message=b"fake supports json + zlib-stream only")
            return ws
        self._open.add(conn)
        try:
            await conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_frame(conn, json.loads(message.data))
        finally:
            self._open.discard(conn)
            if self._current is conn:
                self._current = None
                self._ready.clear()
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: Payload) -> None:
        op, data = frame.get("op"), frame.get("d")
        self.received.append(frame)
        if op == HEARTBEAT:
            self.heartbeats += 1
            await conn.send({"op": HEARTBEAT_ACK, "d": None})
        elif op == IDENTIFY and isinstance(data, dict):
            await self._identify(conn, data)
        elif op == RESUME and isinstance(data, dict):
            await self._resume(conn, data)

    async def _identify(self, conn: GatewayConnection, data: Payload) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=ALREADY_AUTHENTICATED, message=b"Already authenticated.")
            return
        self.identify_count += 1
        session = GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)))
        self._sessions[session.id] = session
        self.session, conn.session = session, session
        ready, guild_creates = self._build_ready(session.id, session.intents)
        await conn.send(session.frame("READY", ready))
        for guild in guild_creates:
            await conn.send(session.frame("GUILD_CREATE", guild))
        self._make_current(conn)
        self._session_started.set()

    async def _resume(self, conn: GatewayConnection, data: Payload) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        self.resume_count += 1
        self.session, conn.session = session, session
        seen = data.get("seq") or 0
        for frame in [f for f in session.history if f["s"] > seen]:
            await conn.send(frame)
        await conn.send(
            session.frame("RESUMED", {"_trace": ['["fake-discord-gateway",{"micros":1}]']})
        )
        self._make_current(conn)

    def _make_current(self, conn: GatewayConnection) -> None:
        self._current = conn
        self._ready.set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def wait_session(self) -> None:
        await self._session_started.wait()

    async def dispatch(self, event: str, data: Any) -> int:
        """Numbers the event in the session and sends it if the session has a live connection.

        Between a RECONNECT and the client's RESUME the event is only kept, then replayed.
        """
        session = self.session
        if session is None:
            raise RuntimeError("no gateway session yet: await wait_ready() first")
        frame = session.frame(event, data)
        current = self._current
        if current is not None and current.session is session:
            await current.send(frame)
        return int(frame["s"])

    async def request_reconnect(self) -> None:
        """Sends op 7; the client closes this socket and RESUMEs on resume_gateway_url."""
        await self._detach_current({"op": RECONNECT, "d": None})

    async def invalidate_session(self, resumable: bool) -> None:
        """Sends op 9; when not resumable the session is forgotten and the client re-IDENTIFYs."""
        if not resumable and self.session is not None:
            self._sessions.pop(self.session.id, None)
        await self._detach_current({"op": INVALID_SESSION, "d": resumable})

    async def drop_connection(self) -> None:
        """Closes the socket with 4000 (unknown error) and no op 7; the session stays
        resumable, so the client RESUMEs and what was dispatched meanwhile is replayed."""
        await self._ready.wait()
        current = self._current
        assert current is not None
        self._current = None
        self._ready.clear()
        await current.ws.close(code=4000, message=b"Unknown error.")

    async def _detach_current(self, frame: Payload) -> None:
        await self._ready.wait()
        current = self._current
        assert current is not None
        self._current = None
        self._ready.clear()
        await current.send(frame)

    async def close_all(self) -> None:
        for conn in list(self._open):
            with contextlib.suppress(ConnectionError):
                await conn.ws.close(code=1001, message=b"server shutdown")
