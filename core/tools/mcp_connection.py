"""One live MCP session with one server, held open by its own task (the SDK's context managers
must be entered and left in the same task), through which any task may call a tool."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import IO, TextIO

import httpx2
from mcp.client import Client, Transport
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, CallToolResult, Implementation, Tool

from core.config.tools import ToolServerConfig
from core.errors import ParleyError
from core.tools.calls import JsonValue

log = logging.getLogger("core.tools")

# What a stdio child may inherit from Parley beyond its config's `env` (the SDK adds its own
# short list: HOME, LOGNAME, PATH, SHELL, TERM, USER): enough for a program to run and read
# text, never a token.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
CLIENT_INFO = Implementation(name="parley", version="1")
MAX_PAGES = 100  # a server whose tool list never ends cannot hang a connection


class ToolServerDown(ParleyError):
    """The server could not be reached, or went away; the text says why, without secrets."""


class SessionExpired(ToolServerDown):
    """The HTTP server no longer knows the session (HTTP 404 to a request carrying its id, as
    after a restart); it ran nothing, and MCP says to start a new session."""


class McpConnection:
    """A session with one server, open from `open()` until `close()` or its loss."""

    def __init__(self, config: ToolServerConfig) -> None:
        self._config = config
        self._client: Client | None = None
        self._stop = asyncio.Event()
        self._holder: asyncio.Task[None] | None = None
        self._http_error: int | None = None  # the last HTTP error status the server gave
        self._session_expired = False

    @property
    def alive(self) -> bool:
        return self._holder is not None and not self._holder.done()

    async def open(self) -> list[Tool]:
        """Connects and lists every tool, within the server's timeout; ToolServerDown else."""
        opened: asyncio.Future[list[Tool]] = asyncio.get_running_loop().create_future()
        self._holder = asyncio.create_task(self._hold(opened), name=f"mcp-{self._config.name}")
        try:
            async with asyncio.timeout(self._config.timeout):
                return await opened
        except BaseException as error:
            # Timed out, failed or cancelled (Parley closing while it connects): the holder
            # must end here too, or a stdio child would outlive the connection.
            opened.cancel()
            await self.close()
            if isinstance(error, TimeoutError):
                raise ToolServerDown(f"no answer within {self._config.timeout:g} s") from None
            raise

    async def call(self, tool: str, arguments: dict[str, JsonValue]) -> CallToolResult:
        """One call; TimeoutError after the server's timeout, ToolServerDown if the session
        is lost."""
        if self._client is None or not self.alive:
            raise ToolServerDown("the connection is closed")
        try:
            async with asyncio.timeout(self._config.timeout):
                return await self._client.call_tool(tool, dict(arguments))
        except MCPError as error:
            if self._session_expired:
                raise SessionExpired("the server ended the session") from None
            if error.code == CONNECTION_CLOSED:
                raise ToolServerDown("the connection to the server was lost") from None
            raise
        except TimeoutError:
            raise  # the call's own deadline (an OSError too, so caught before the next)
        except (OSError, httpx2.HTTPError) as error:
            raise ToolServerDown(describe(error)) from None

    async def close(self) -> None:
        """Ends the session; a stdio child is stopped and reaped (the SDK closes its stdin,
        then terminates its process group)."""
        self._stop.set()
        if self._holder is not None and self._client is None:
            self._holder.cancel()  # still connecting: the stop event is not watched yet
        if self._holder is not None:
            # wait, not await: the holder's own cancellation is ours, a caller's is not.
            await asyncio.wait({self._holder})
        self._client = None

    async def _hold(self, opened: asyncio.Future[list[Tool]]) -> None:
        try:
            async with self._session() as client:
                tools = await _all_tools(client)
                self._client = client
                if not opened.done():
                    opened.set_result(tools)
                await self._stop.wait()
        except Exception as error:  # every failure of a server is reported
            if not opened.done():
                # The SDK turns an HTTP error into a JSON-RPC one without its status.
                status = f" (HTTP {self._http_error})" if self._http_error else ""
                opened.set_exception(ToolServerDown(describe(error) + status))
            else:
                log.debug("tool server %s: session ended: %s", self._config.name, describe(error))
        finally:
            self._client = None
            log.debug("tool server %s: session closed", self._config.name)

    async def _note_http_error(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self._http_error = response.status_code
        if response.status_code == 404 and "mcp-session-id" in response.request.headers:
            self._session_expired = True

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Client]:
        config = self._config
        if config.command is not None:
            loop = asyncio.get_running_loop()
            # The child's stderr ends when it exits: the one sign of a death between calls.
            ended = functools.partial(loop.call_soon_threadsafe, self._stop.set)
            with StderrToLog(config.name, ended) as errlog:
                async with Client(_stdio(config, errlog.pipe), client_info=CLIENT_INFO) as client:
                    errlog.spawned()
                    yield client
            return
        # Headers may hold secrets: they go into the HTTP client only, never into a message.
        async with httpx2.AsyncClient(
            headers=dict(config.headers),
            timeout=httpx2.Timeout(config.timeout, read=max(config.timeout, 300.0)),
            event_hooks={"response": [self._note_http_error]},
        ) as http:
            transport = streamable_http_client(str(config.url), http_client=http)
            async with Client(transport, client_info=CLIENT_INFO) as client:
                yield client


def _stdio(config: ToolServerConfig, errlog: TextIO) -> Transport:
    assert config.command is not None
    inherited = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    command, args = _command_line(config.command, config.args)
    parameters = StdioServerParameters(
        command=command,
        args=args,
        env=inherited | dict(config.env),
        cwd=config.cwd,
    )
    return stdio_client(parameters, errlog=errlog)


def _command_line(command: str, args: tuple[str, ...]) -> tuple[str, list[str]]:
    """`parley` names this Parley (its own servers, e.g. `parley notes-server`), found
    whether or not its virtualenv is on PATH: the Python running it, with `-m cli`."""
    if command == "parley":
        return sys.executable, ["-m", "cli", *args]
    return command, list(args)


async def _all_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def describe(error: BaseException) -> str:
    """A short reason from an exception, the innermost one of a group (anyio's task groups
    wrap what failed)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


class StderrToLog:
    """A pipe for a child's stderr whose lines go to the log at DEBUG, read by a thread so
    it works on any event loop."""

    def __init__(self, server: str, ended: Callable[[], object]) -> None:
        self._server = server
        self._ended = ended
        read_end, write_end = os.pipe()
        self.pipe: TextIO = os.fdopen(write_end, "w")
        self._reader = threading.Thread(
            target=self._forward, args=(os.fdopen(read_end, errors="replace"),), daemon=True
        )

    def __enter__(self) -> StderrToLog:
        self._reader.start()
        return self

    def spawned(self) -> None:
        """The child holds its own copy now; ours must close for the reader to see its end."""
        if not self.pipe.closed:
            self.pipe.close()

    def __exit__(self, *exc_info: object) -> None:
        self.spawned()

    def _forward(self, lines: IO[str]) -> None:
        with lines:
            for line in lines:
                log.debug("tool server %s stderr: %s", self._server, line.rstrip())
        with contextlib.suppress(RuntimeError):  # the loop closed first: nobody to tell
            self._ended()
