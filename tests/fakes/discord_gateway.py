"""The gateway side of a fake Discord: hello, heartbeats, identify, resume, dispatch and replay,
with one session per shard when the bot identifies with `shard: [id, count]`."""

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
from tests.fakes.discord_shards import for_shard, shard_field, shard_of_event

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0, 1, 2, 6, 7, 9, 10, 11,
)  # fmt: skip
# Close codes Discord uses for a bad token and a second IDENTIFY on one connection.
AUTHENTICATION_FAILED, ALREADY_AUTHENTICATED, DECODE_ERROR = 4004, 4005, 4002
# ...for a shard that cannot be (id >= count, or a count other live sessions do not use),
# and for a bot in too many servers identifying without shards.
INVALID_SHARD, SHARDING_REQUIRED = 4010, 4011

# READY and the GUILD_CREATEs that follow it, for a new session id.
ReadyBuilder = Callable[[str, int], tuple[Payload, list[Payload]]]


@dataclass
class GatewaySession:
    """A session outlives its connections; its dispatches are kept so RESUME can replay them."""

    id: str
    intents: int
    shard: tuple[int, int] = (0, 1)  # (id, count); an unsharded session is shard 0 of 1
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


class ShardLine:
    """One shard's place on the gateway: its session and the connection carrying it now
    (one current connection per shard; a newer IDENTIFY for the shard takes it over)."""

    def __init__(self) -> None:
        self.session: GatewaySession | None = None
        self.current: GatewayConnection | None = None
        self.ready = asyncio.Event()


class GatewayServer:
    """Serves the gateway WebSocket: per shard, one current (identified or resumed) connection.

    `shard_count` is what GET /gateway/bot recommends; `sharding_required` closes an
    IDENTIFY without `shard` with 4011, as Discord does for a bot in 2,500+ servers.
    """

    def __init__(
        self,
        token: str,
        build_ready: ReadyBuilder,
        heartbeat_interval_ms: int,
        *,
        shard_count: int = 1,
        sharding_required: bool = False,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.shard_count = shard_count
        self.sharding_required = sharding_required
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self.connections: list[str] = []
        self.received: list[Payload] = []
        self.identified: list[Any] = []  # each IDENTIFY's `shard` field (None: unsharded)
        self.undelivered: list[tuple[int, str]] = []  # (shard, event) with no session there
        self._build_ready = build_ready
        self._sessions: dict[str, GatewaySession] = {}
        self._lines: dict[int, ShardLine] = {}
        self._open: set[GatewayConnection] = set()
        self._session_started = asyncio.Event()

    def line(self, shard: int) -> ShardLine:
        return self._lines.setdefault(shard, ShardLine())

    @property
    def session(self) -> GatewaySession | None:
        """Shard 0's session: the only one of an unsharded bot."""
        return self.line(0).session

    @property
    def has_sessions(self) -> bool:
        return self._session_started.is_set()

    @property
    def intents(self) -> int:
        return self.intents_of(0)

    def intents_of(self, shard: int) -> int:
        session = self.line(shard).session
        return 0 if session is None else session.intents

    @property
    def live_shards(self) -> dict[int, int]:
        """Shard id to count, for each shard with a connection carrying its session now."""
        return {
            shard: line.session.shard[1]
            for shard, line in self._lines.items()
            if line.session is not None and line.current is not None
        }

    def shard_for(self, event: str, data: Any) -> int:
        """The shard Discord sends this event on, by the count the sessions identified with."""
        counts = {line.session.shard[1] for line in self._lines.values() if line.session}
        return shard_of_event(event, data, max(counts, default=1))

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
            for line in self._lines.values():
                if line.current is conn:
                    line.current = None
                    line.ready.clear()
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
        self.identified.append(data.get("shard"))
        shard = await self._shard_allowed(conn, data.get("shard"))
        if shard is None:
            return
        self.identify_count += 1
        session = GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)), shard)
        self._sessions[session.id] = session
        line = self.line(shard[0])
        line.session, conn.session = session, session
        ready, guild_creates = self._build_ready(session.id, session.intents)
        if "shard" in data:
            ready, guild_creates = for_shard(ready, guild_creates, shard)
        await conn.send(session.frame("READY", ready))
        for guild in guild_creates:
            await conn.send(session.frame("GUILD_CREATE", guild))
        self._make_current(line, conn)
        self._session_started.set()

    async def _shard_allowed(
        self, conn: GatewayConnection, field: object
    ) -> tuple[int, int] | None:
        """The (id, count) IDENTIFY asked for, or None once the connection is closed for it."""
        if field is None:
            if self.sharding_required:
                await conn.ws.close(code=SHARDING_REQUIRED, message=b"Sharding required.")
                return None
            return (0, 1)
        shard = shard_field(field)
        others = {count for id_, count in self.live_shards.items() if shard and id_ != shard[0]}
        if shard is None or others - {shard[1]}:
            await conn.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return None
        return shard

    async def _resume(self, conn: GatewayConnection, data: Payload) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        self.resume_count += 1
        line = self.line(session.shard[0])
        line.session, conn.session = session, session
        seen = data.get("seq") or 0
        for frame in [f for f in session.history if f["s"] > seen]:
            await conn.send(frame)
        await conn.send(
            session.frame("RESUMED", {"_trace": ['["fake-discord-gateway",{"micros":1}]']})
        )
        self._make_current(line, conn)

    def _make_current(self, line: ShardLine, conn: GatewayConnection) -> None:
        line.current = conn
        line.ready.set()

    async def wait_ready(self, shard: int = 0) -> None:
        await self.line(shard).ready.wait()

    async def wait_session(self) -> None:
        await self._session_started.wait()

    async def dispatch(self, event: str, data: Any, shard: int | None = None) -> int:
        """Numbers the event in its shard's session and sends it if that session has a live
        connection; returns its sequence number (0: no session on that shard, so Discord
        delivers it to no one).

        Between a RECONNECT and the client's RESUME the event is only kept, then replayed.
        """
        if not self.has_sessions:
            raise RuntimeError("no gateway session yet: await wait_ready() first")
        shard = self.shard_for(event, data) if shard is None else shard
        line = self.line(shard)
        session = line.session
        if session is None:
            self.undelivered.append((shard, event))
            return 0
        frame = session.frame(event, data)
        current = line.current
        if current is not None and current.session is session:
            await current.send(frame)
        return int(frame["s"])

    async def request_reconnect(self, shard: int = 0) -> None:
        """Sends op 7; the client closes this socket and RESUMEs on resume_gateway_url."""
        await self._detach_current(self.line(shard), {"op": RECONNECT, "d": None})

    async def invalidate_session(self, resumable: bool, shard: int = 0) -> None:
        """Sends op 9; when not resumable the session is forgotten and the client re-IDENTIFYs."""
        line = self.line(shard)
        if not resumable and line.session is not None:
            self._sessions.pop(line.session.id, None)
        await self._detach_current(line, {"op": INVALID_SESSION, "d": resumable})

    async def drop_connection(self, shard: int = 0) -> None:
        """Closes the socket with 4000 (unknown error) and no op 7; the session stays
        resumable, so the client RESUMEs and what was dispatched meanwhile is replayed."""
        current = await self._take_current(self.line(shard))
        await current.ws.close(code=4000, message=b"Unknown error.")

    async def _detach_current(self, line: ShardLine, frame: Payload) -> None:
        current = await self._take_current(line)
        await current.send(frame)

    async def _take_current(self, line: ShardLine) -> GatewayConnection:
        await line.ready.wait()
        current = line.current
        assert current is not None
        line.current = None
        line.ready.clear()
        return current

    async def close_all(self) -> None:
        for conn in list(self._open):
            with contextlib.suppress(ConnectionError):
                await conn.ws.close(code=1001, message=b"server shutdown")
