"""The Socket Mode side of a fake Slack: hello, envelopes, acks and server-sent disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

_DEBUG_INFO = {"host": "fake", "build_number": 1, "approximate_connection_time": 18060}
# Slack retries (and eventually disables the app) when an envelope is not acked within 3 s.
ACK_WINDOW = 3.0


class SocketModeServer:
    """Serves /socket for tickets issued by apps.connections.open; one current client at a time.

    `connections` counts accepted WebSocket connections, `acks` holds every envelope id a
    client acknowledged (in order), `ack_payloads` the payload an ack carried, if any.
    `violations` names every envelope not acked within `ack_window` seconds (None: no limit).
    """

    def __init__(self, app_id: str, ack_window: float | None = ACK_WINDOW) -> None:
        self.app_id = app_id
        self.ack_window = ack_window
        self.violations: list[str] = []
        self._ack_timers: dict[str, asyncio.TimerHandle] = {}
        self.connections = 0
        self.acks: list[str] = []
        self.ack_payloads: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self._tickets: set[str] = set()
        self._ticket_count = 0
        self._open: set[web.WebSocketResponse] = set()
        self._current: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, asyncio.Future[None]] = {}

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
        self.connections += 1
        self._open.add(ws)
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": _DEBUG_INFO,
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_json(hello)
        self._current = ws
        self._connected.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(message.data)
        finally:
            self._open.discard(ws)
            if self._current is ws:
                self._current = None
                self._connected.clear()
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

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def send(self, frame: dict[str, Any]) -> None:
        """Sends one frame to the current client, waiting for one to connect if needed."""
        await self.wait_connected()
        assert self._current is not None
        envelope_id = frame.get("envelope_id")
        if isinstance(envelope_id, str) and self.ack_window is not None:
            self._ack_timers[envelope_id] = asyncio.get_running_loop().call_later(
                self.ack_window, self._ack_missed, envelope_id
            )
        await self._current.send_json(frame)

    def _ack_missed(self, envelope_id: str) -> None:
        self._ack_timers.pop(envelope_id, None)
        self.violations.append(
            f"envelope {envelope_id} was not acknowledged within {self.ack_window} s"
        )

    async def send_and_wait_ack(self, envelope: dict[str, Any]) -> str:
        envelope_id = str(envelope["envelope_id"])
        waiter = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = waiter
        try:
            await self.send(envelope)
            await waiter
        finally:
            self._pending.pop(envelope_id, None)
        return envelope_id

    async def disconnect_client(self, reason: str) -> None:
        """Asks the client to reconnect, as Slack does; later sends wait for the new socket."""
        await self.wait_connected()
        current = self._current
        assert current is not None
        self._current = None
        self._connected.clear()
        await current.send_json({"type": "disconnect", "reason": reason, "debug_info": _DEBUG_INFO})

    async def drop_client(self) -> None:
        """Closes the current socket without a word, as a network fault or a Slack restart does."""
        await self.wait_connected()
        current = self._current
        assert current is not None
        self._current = None
        self._connected.clear()
        await current.close(code=1011, message=b"server error")

    async def close_all(self) -> None:
        for timer in self._ack_timers.values():
            timer.cancel()
        self._ack_timers.clear()
        for ws in list(self._open):
            with contextlib.suppress(ConnectionError):
                await ws.close(code=1001, message=b"server shutdown")
