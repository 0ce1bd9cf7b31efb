"""The Socket Mode side of a fake Slack: hello, envelopes to one of several connections, acks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack_connections import Connections, SocketConnection, Target

_DEBUG_INFO = {"host": "fake", "build_number": 1, "approximate_connection_time": 18060}
# Slack retries (and eventually disables the app) when an envelope is not acked within 3 s.
ACK_WINDOW = 3.0


class SocketModeServer:
    """Serves /socket for tickets issued by apps.connections.open; up to 10 connections at once.

    `connections` counts accepted WebSocket connections, `refused` the ones turned away over
    the limit; `acks` holds every envelope id a client acknowledged (in order, on whichever
    connection), `ack_payloads` the payload an ack carried, if any, `delivered_to` the
    connection number each envelope went to. `violations` names every envelope not acked
    within `ack_window` seconds (None: no limit).
    """

    def __init__(self, app_id: str, ack_window: float | None = ACK_WINDOW) -> None:
        self.app_id = app_id
        self.ack_window = ack_window
        self.violations: list[str] = []
        self._ack_timers: dict[str, asyncio.TimerHandle] = {}
        self.pool = Connections()
        self.refused = 0
        self.acks: list[str] = []
        self.ack_payloads: dict[str, dict[str, Any]] = {}
        self.delivered_to: dict[str, int] = {}
        self.sent: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self._tickets: set[str] = set()
        self._ticket_count = 0
        self._pending: dict[str, asyncio.Future[None]] = {}

    @property
    def connections(self) -> int:
        return self.pool.accepted

    def issue_ticket(self) -> str:
        """A single-use ticket for the URL apps.connections.open returns."""
        self._ticket_count += 1
        ticket = str(self._ticket_count)
        self._tickets.add(ticket)
        return ticket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if self.pool.full():
            return await self._refuse(ws)
        # The URL as the client opened it (slack_sdk keeps it as `wss_uri`): its identity.
        connection = await self.pool.add(str(request.url.with_scheme("ws")), ws)
        hello = {
            "type": "hello",
            "num_connections": len(self.pool.open),
            "debug_info": _DEBUG_INFO,
            "connection_info": {"app_id": self.app_id},
        }
        try:
            await ws.send_json(hello)
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(message.data)
        finally:
            await self.pool.remove(connection)
        return ws

    async def _refuse(self, ws: web.WebSocketResponse) -> web.WebSocketResponse:
        """What Slack does with an 11th connection: a disconnect frame instead of hello."""
        self.refused += 1
        reason = {"type": "disconnect", "reason": "too_many_websockets", "debug_info": _DEBUG_INFO}
        with contextlib.suppress(ConnectionError):
            await ws.send_json(reason)
            await ws.close(code=1008, message=b"too_many_websockets")
        return ws

    def _on_text(self, data: str) -> None:
        """Clients answer envelopes with {"envelope_id": ..., "payload"?: {...}}."""
        frame = json.loads(data)
        self.received.append(frame)
        envelope_id = frame.get("envelope_id")
        if not isinstance(envelope_id, str):
            return
        self.acks.append(envelope_id)
        timer = self._ack_timers.pop(envelope_id, None)
        if timer is not None:
            timer.cancel()
        if isinstance(frame.get("payload"), dict):
            self.ack_payloads[envelope_id] = frame["payload"]
        waiter = self._pending.pop(envelope_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_connected(self, count: int = 1) -> None:
        """Until `count` connections are open and take envelopes."""
        await self.pool.wait_until(lambda: len(self.pool.routable) >= count)

    async def send(
        self, frame: dict[str, Any], *, to: Target = None, avoid: int | None = None
    ) -> SocketConnection:
        """Sends one frame to one connection (see Target), waiting for it to be open.

        `avoid` is a connection number this one must not go to (a retry's first connection).
        """
        connection = await self.pool.wait_for(to, avoid=avoid)
        envelope_id = frame.get("envelope_id")
        if isinstance(envelope_id, str):
            self.sent[envelope_id] = frame
            self.delivered_to[envelope_id] = connection.number
            connection.delivered.append(envelope_id)
            if self.ack_window is not None:
                self._ack_timers[envelope_id] = asyncio.get_running_loop().call_later(
                    self.ack_window, self._ack_missed, envelope_id
                )
        await connection.ws.send_json(frame)
        return connection

    def _ack_missed(self, envelope_id: str) -> None:
        self._ack_timers.pop(envelope_id, None)
        self.violations.append(
            f"envelope {envelope_id} was not acknowledged within {self.ack_window} s"
        )

    async def send_and_wait_ack(
        self, envelope: dict[str, Any], *, to: Target = None, avoid: int | None = None
    ) -> str:
        envelope_id = str(envelope["envelope_id"])
        waiter = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = waiter
        try:
            await self.send(envelope, to=to, avoid=avoid)
            await waiter
        finally:
            self._pending.pop(envelope_id, None)
        return envelope_id

    async def redeliver(self, envelope_id: str, reason: str, *, to: Target = None) -> str:
        """Slack's retry of an envelope: the same payload in a new envelope, retry_attempt one
        higher; unless `to` names one, to another connection than the previous try went to."""
        earlier = self.sent[envelope_id]
        retry = {
            **earlier,
            "envelope_id": str(uuid.uuid4()),
            "retry_attempt": int(earlier.get("retry_attempt", 0)) + 1,
            "retry_reason": reason,
        }
        avoid = self.delivered_to[envelope_id] if to is None else None
        return await self.send_and_wait_ack(retry, to=to, avoid=avoid)

    async def disconnect_client(self, reason: str, *, which: Target = None) -> None:
        """Asks a client to reconnect, as Slack does; later sends go to the other connections.

        `which` defaults to the newest connection (the only one, in a one-client test).
        """
        connection = await self.pool.wait_for(-1 if which is None else which)
        await self.pool.retire(connection)
        frame = {"type": "disconnect", "reason": reason, "debug_info": _DEBUG_INFO}
        await connection.ws.send_json(frame)

    async def drop_client(self, *, which: Target = None) -> None:
        """Closes a socket without a word, as a network fault or a Slack restart does."""
        connection = await self.pool.wait_for(-1 if which is None else which)
        await self.pool.retire(connection)
        await connection.ws.close(code=1011, message=b"server error")

    async def close_all(self) -> None:
        for timer in self._ack_timers.values():
            timer.cancel()
        self._ack_timers.clear()
        for connection in list(self.pool.open):
            with contextlib.suppress(ConnectionError):
                await connection.ws.close(code=1001, message=b"server shutdown")
