"""The Socket Mode connections an app holds open on the fake Slack, and which one gets an envelope.

Slack lets an app hold up to 10 connections at once (several processes of one app each open
one) and hands each envelope to one of them; a retry may go to another. Here the test chooses:
round robin by default, or a connection by its position among the open ones (0 is the
oldest) or by the URL the app connected with (slack_sdk's `SocketModeClient.wss_uri`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

# Slack's limit per app; one more is told "too_many_websockets" and closed.
MAX_CONNECTIONS = 10

# Which connection an envelope goes to: None (round robin), a position among the open ones
# (0 the oldest, -1 the newest), or the URL a connection was opened with.
Target = int | str | None


@dataclass(eq=False)
class SocketConnection:
    """One open WebSocket: `number` counts from 1 in the order they were accepted."""

    number: int
    url: str
    ws: web.WebSocketResponse
    # False once the server asked it to go (disconnect) or dropped it: it gets no more envelopes.
    routable: bool = True
    delivered: list[str] = field(default_factory=list)


class Connections:
    """The open connections, in the order they opened; waits for the one a send needs."""

    def __init__(self) -> None:
        self.open: list[SocketConnection] = []
        self.accepted = 0
        self._turn = 0
        self._changed = asyncio.Condition()

    @property
    def routable(self) -> list[SocketConnection]:
        return [connection for connection in self.open if connection.routable]

    def full(self) -> bool:
        return len(self.open) >= MAX_CONNECTIONS

    async def add(self, url: str, ws: web.WebSocketResponse) -> SocketConnection:
        self.accepted += 1
        connection = SocketConnection(self.accepted, url, ws)
        self.open.append(connection)
        await self._notify()
        return connection

    async def remove(self, connection: SocketConnection) -> None:
        if connection in self.open:
            self.open.remove(connection)
        await self._notify()

    async def retire(self, connection: SocketConnection) -> None:
        """Sends no more envelopes to it (it is going away); it still counts until it closes."""
        connection.routable = False
        await self._notify()

    async def wait_for(self, target: Target, *, avoid: int | None = None) -> SocketConnection:
        """The connection `target` names, once it is open (and not `avoid`, a number)."""
        async with self._changed:
            found: list[SocketConnection] = []
            await self._changed.wait_for(lambda: _found(found, self._pick(target, avoid)))
            return found[0]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(predicate)

    def _pick(self, target: Target, avoid: int | None) -> SocketConnection | None:
        candidates = [each for each in self.routable if each.number != avoid]
        if isinstance(target, str):
            return next((each for each in candidates if each.url == target), None)
        if isinstance(target, int):
            in_range = -len(candidates) <= target < len(candidates)
            return candidates[target] if in_range else None
        if not candidates:
            return None
        chosen = candidates[self._turn % len(candidates)]
        self._turn += 1
        return chosen

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _found(into: list[SocketConnection], connection: SocketConnection | None) -> bool:
    if connection is not None:
        into.append(connection)
    return connection is not None
