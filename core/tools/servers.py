"""The MCP servers of a config: connected together at start, their tools listed, calls routed,
servers that were down tried again lazily, all closed together."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from core.config.tools import ToolServerConfig
from core.tools.calls import JsonValue, ToolResult, ToolSpec
from core.tools.server_slot import ServerSlot

RETRY_AFTER = 60.0  # seconds before a server that could not be reached is tried again


@dataclass(frozen=True, slots=True)
class ServerProbe:
    """What `parley check --probe` reports of one server."""

    name: str
    transport: str  # "stdio" or "http"
    reachable: bool
    error: str | None
    tools: tuple[str, ...]


class ToolServers:
    """Every configured server; a failing one is left out (logged once), never raised."""

    def __init__(
        self, configs: Mapping[str, ToolServerConfig], retry_after: float = RETRY_AFTER
    ) -> None:
        self._slots = {name: ServerSlot(config, retry_after) for name, config in configs.items()}
        self._retries: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connects every server at once, each within its own timeout."""
        await asyncio.gather(*(slot.connect() for slot in self._slots.values()))

    def tools(self) -> tuple[ToolSpec, ...]:
        """The tools of the servers reachable now; a server due for a retry is retried in the
        background (its tools appear from the next call of this on)."""
        for slot in self._slots.values():
            if slot.due and not self._retrying(slot):
                self._retry(slot)
        return tuple(spec for slot in self._slots.values() for spec in slot.tools())

    async def call(self, spec: ToolSpec, arguments: dict[str, JsonValue]) -> ToolResult:
        """One call, bounded by its server's timeout; never raises but for cancellation."""
        slot = self._slots.get(spec.server)
        if slot is None:
            return ToolResult(f"no tool server is named {spec.server}", failed=True)
        return await slot.call(spec.tool, arguments)

    async def probe(self) -> list[ServerProbe]:
        """Tries every server not connected now (back-off or not) and reports each."""
        await asyncio.gather(*(s.connect() for s in self._slots.values() if not s.connected))
        return [
            ServerProbe(
                name=name,
                transport=slot.transport,
                reachable=slot.connected,
                error=None if slot.connected else slot.error,
                tools=tuple(spec.tool for spec in slot.tools()),
            )
            for name, slot in self._slots.items()
        ]

    async def close(self) -> None:
        """Ends every session; stdio children are stopped and reaped."""
        for task in self._retries:
            task.cancel()
        if self._retries:
            await asyncio.wait(self._retries)
        await asyncio.gather(*(slot.close() for slot in self._slots.values()))

    def _retrying(self, slot: ServerSlot) -> bool:
        return any(task.get_name() == f"tool-retry-{slot.config.name}" for task in self._retries)

    def _retry(self, slot: ServerSlot) -> None:
        task = asyncio.create_task(slot.connect(), name=f"tool-retry-{slot.config.name}")
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)
