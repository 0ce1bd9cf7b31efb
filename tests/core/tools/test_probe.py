"""`parley check --probe`'s view of the servers: reachable or why not, and their tools."""

from __future__ import annotations

from core.tools.servers import ServerProbe, ToolServers
from tests.core.tools.conftest import Served
from tests.fakes.mcp_fixtures import ToolsServerFiles, stdio_config

TOOLS = ("search", "delete_page", "slow", "broken", "big", "env_names")


async def test_probe_reports_each_server(served: Served, files: ToolsServerFiles) -> None:
    missing = stdio_config(files, name="gone").model_copy(update={"command": "/nonexistent/x"})
    servers = ToolServers({"docs": served.config, "gone": missing})
    try:
        docs, gone = await servers.probe()
    finally:
        await servers.close()
    transport = "stdio" if served.http is None else "http"
    assert docs == ServerProbe("docs", transport, True, None, TOOLS)
    assert (gone.name, gone.transport, gone.reachable, gone.tools) == ("gone", "stdio", False, ())
    assert gone.error is not None and "nonexistent" in gone.error
