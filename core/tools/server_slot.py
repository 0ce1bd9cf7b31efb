"""One configured MCP server as Parley keeps it: connected or down, tried again after a
back-off, its tools, and its calls turned into results that never raise."""

from __future__ import annotations

import asyncio
import logging
import time

from mcp_types import Tool

from core.config.tools import ToolServerConfig
from core.tools.calls import JsonValue, ToolResult, ToolSpec
from core.tools.mcp_connection import McpConnection, SessionExpired, ToolServerDown
from core.tools.mcp_results import tool_result

log = logging.getLogger("core.tools")


class ServerSlot:
    """The state of one server. A failed connection is reported once (WARNING) and retried
    no sooner than `retry_after`; its return is reported once (INFO). A session lost during
    a call is retried at the next call, as the server was working until then."""

    def __init__(self, config: ToolServerConfig, retry_after: float) -> None:
        self.config = config
        self.error: str | None = None
        self._retry_after = retry_after
        self._connection: McpConnection | None = None
        self._tools: tuple[ToolSpec, ...] = ()
        self._retry_at = 0.0
        self._reported_down = False
        self._connecting = asyncio.Lock()
        self._closed = False

    @property
    def transport(self) -> str:
        return "stdio" if self.config.command is not None else "http"

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.alive

    @property
    def due(self) -> bool:
        """Down, and its back-off has passed."""
        return not self.connected and time.monotonic() >= self._retry_at

    def tools(self) -> tuple[ToolSpec, ...]:
        return self._tools if self.connected else ()

    async def connect(self) -> None:
        """Connects unless connected; a failure is recorded and logged, never raised."""
        async with self._connecting:
            if self._connection is not None and not self._connection.alive:
                ended = "its process exited" if self.transport == "stdio" else "its session ended"
                await self._lost(self._connection, ended)  # between calls
            if self.connected or self._closed:
                return
            connection = McpConnection(self.config)
            try:
                listed = await connection.open()
            except ToolServerDown as down:
                self._went_down(str(down), retry_after=self._retry_after)
                return
            if self._closed:  # closed while it connected: nobody would close it later
                await connection.close()
                return
            self._connection = connection
            self._tools = tuple(self._spec(tool) for tool in listed)
            self.error = None
            if self._reported_down:
                self._reported_down = False
                log.info("tool server %s is back (%d tools)", self.config.name, len(self._tools))

    async def call(self, tool: str, arguments: dict[str, JsonValue]) -> ToolResult:
        """One call within the server's timeout; every failure becomes a failed result."""
        try:
            return await self._call_once(tool, arguments)
        except SessionExpired:
            # Nothing ran; MCP says start a new session. Once: a server that forgets every
            # session at once is reported as down by the next attempt.
            return await self._call_once(tool, arguments, expired_again_is_down=True)

    async def _call_once(
        self, tool: str, arguments: dict[str, JsonValue], expired_again_is_down: bool = False
    ) -> ToolResult:
        if not self.connected and (self.due or self._connection is not None):
            await self.connect()
        connection = self._connection
        if connection is None or not connection.alive:
            reason = f"tool server {self.config.name} is not reachable: {self.error}"
            return ToolResult(reason, failed=True)
        log.debug("tool call %s.%s arguments: %r", self.config.name, tool, arguments)
        timeout = self.config.timeout
        try:
            result = tool_result(await connection.call(tool, arguments))
        except TimeoutError:
            result = ToolResult(f"timed out after {timeout:g} s", failed=True)
        except SessionExpired:
            if not expired_again_is_down:
                await self._drop(connection)
                raise
            await self._lost(connection, "the server ended a new session at once")
            result = ToolResult(f"tool server {self.config.name}: its session ended", True)
        except ToolServerDown as down:
            await self._lost(connection, str(down))
            result = ToolResult(f"tool server {self.config.name}: {down}", failed=True)
        except Exception as error:  # a protocol error is the call's result
            result = ToolResult(f"tool server {self.config.name} refused the call: {error}", True)
        log.debug("tool call %s.%s result: %r", self.config.name, tool, result)
        return result

    async def close(self) -> None:
        self._closed = True  # a call cut by the close is no outage to report
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _drop(self, connection: McpConnection) -> None:
        """Closes an expired session quietly, a new one due at once (unless another call
        has opened it already)."""
        if self._connection is connection:
            self._connection = None
            self._retry_at = 0.0
        await connection.close()

    async def _lost(self, connection: McpConnection, reason: str) -> None:
        if self._connection is connection:
            self._connection = None
        await connection.close()
        if not self._closed:
            self._went_down(reason, retry_after=0.0)

    def _went_down(self, reason: str, retry_after: float) -> None:
        self.error = reason
        self._retry_at = time.monotonic() + retry_after
        if self._reported_down:
            log.debug("tool server %s still unreachable: %s", self.config.name, reason)
            return
        self._reported_down = True
        again = f"tried again in {retry_after:g} s" if retry_after else "tried again at next use"
        log.warning("tool server %s is unreachable: %s (%s)", self.config.name, reason, again)

    def _spec(self, tool: Tool) -> ToolSpec:
        hints = tool.annotations
        return ToolSpec(
            name=f"{self.config.name}.{tool.name}",
            server=self.config.name,
            tool=tool.name,
            description=tool.description or "",
            parameters=_json_object(tool.input_schema),
            read_only=hints is not None and hints.read_only_hint is True,
        )


def _json_object(schema: dict[str, object]) -> dict[str, JsonValue]:
    """The schema as our JSON type: it arrived as JSON, so it is one (checked, not cast)."""
    result: dict[str, JsonValue] = {}
    for key, value in schema.items():
        result[key] = _json_value(value)
    return result


def _json_value(value: object) -> JsonValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return str(value)
