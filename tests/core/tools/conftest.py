"""The test MCP server both ways (a stdio child, an HTTP process) and ToolServers on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config.tools import ToolServerConfig
from core.tools.servers import ToolServers
from tests.fakes.mcp_fixtures import HttpToolsServer, ToolsServerFiles, http_config, stdio_config


@dataclass
class Served:
    """One running test server: how Parley reaches it, its files, its HTTP process if any."""

    config: ToolServerConfig
    files: ToolsServerFiles
    http: HttpToolsServer | None


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


@pytest.fixture(params=["stdio", "http", "http-2025"])
async def served(request: pytest.FixtureRequest, files: ToolsServerFiles) -> AsyncIterator[Served]:
    """The server as a child, over HTTP, and over HTTP speaking only the 2025 protocol (an
    initialize handshake and a session id, as most servers still do)."""
    if request.param == "stdio":
        yield Served(stdio_config(files), files, None)
        return
    http = HttpToolsServer(files, env={"MCP_HTTP_LEGACY": "1"} if request.param != "http" else {})
    await http.start()
    try:
        yield Served(http_config(http.url), files, http)
    finally:
        await http.kill()


@pytest.fixture
async def servers(served: Served) -> AsyncIterator[ToolServers]:
    tool_servers = ToolServers({served.config.name: served.config})
    await tool_servers.start()
    try:
        yield tool_servers
    finally:
        await tool_servers.close()
