"""The MCP servers as a running Parley holds them: connected in the background at start,
waited for by the first turns that need them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from core.config.tools import ToolServerConfig
from core.tools.calls import JsonValue, ToolResult, ToolSpec


class ToolHostRunning:
    """ToolServers (core.tools.servers, which loads the MCP SDK) started without holding up
    the bots: a turn that may use tools waits for the first connection attempts, bounded by
    each server's own timeout; a server that failed them is tried again later."""

    def __init__(self, configs: Mapping[str, ToolServerConfig]) -> None:
        from core.tools.servers import ToolServers

        self._servers = ToolServers(configs)
        self._start: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self._start = asyncio.create_task(self._servers.start(), name="tool-servers")

    async def ready(self) -> None:
        if self._start is not None:
            await asyncio.shield(self._start)

    def tools(self) -> tuple[ToolSpec, ...]:
        return self._servers.tools()

    async def call(self, spec: ToolSpec, arguments: dict[str, JsonValue]) -> ToolResult:
        return await self._servers.call(spec, arguments)

    async def close(self) -> None:
        if self._start is not None and not self._start.done():
            self._start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._start
        await self._servers.close()
