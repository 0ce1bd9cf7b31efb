"""Streamable HTTP servers: headers sent (never logged), an HTTP error named, and a server
restarted between calls given a new session, over the 2026 protocol and the 2025 one."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.tools.servers import ToolServers
from tests.core.tools.helpers import SEARCH, warnings_about
from tests.fakes.mcp_fixtures import HttpToolsServer, ToolsServerFiles, http_config


async def test_http_headers_are_sent_and_an_http_error_is_unreachable_without_the_value(
    files: ToolsServerFiles, caplog: pytest.LogCaptureFixture
) -> None:
    http = HttpToolsServer(files, env={"MCP_HTTP_TOKEN": "s3cret-token"})
    await http.start()
    right = http_config(http.url, name="good", Authorization="Bearer s3cret-token")
    wrong = http_config(http.url, name="bad", Authorization="Bearer wrong-s3cret")
    servers = ToolServers({"good": right, "bad": wrong})
    try:
        with caplog.at_level(logging.DEBUG):
            await servers.start()
            assert {spec.server for spec in servers.tools()} == {"good"}
    finally:
        await servers.close()
        await http.kill()
    [warning] = warnings_about(caplog, "bad")
    assert "401" in warning
    assert "s3cret" not in caplog.text  # no header value in any log line


@pytest.mark.parametrize("protocol", ["2026", "2025 sessions"])
async def test_an_http_server_restarted_between_calls_is_reconnected(
    files: ToolsServerFiles, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    http = HttpToolsServer(files, env={"MCP_HTTP_LEGACY": "1"} if protocol != "2026" else {})
    await http.start()
    servers = ToolServers({"docs": http_config(http.url)})
    await servers.start()
    try:
        assert not (await servers.call(SEARCH, {"query": "before"})).failed
        await http.kill()
        await http.start()  # the same port, a new process: the old session is unknown there
        together = [servers.call(SEARCH, {"query": f"after {n}"}) for n in range(3)]
        results = list(await asyncio.gather(*together))  # each finds the session gone
        results.append(await servers.call(SEARCH, {"query": "after 3"}))
    finally:
        await servers.close()
        await http.kill()
    assert [r.failed for r in results] == [False] * 4, [r.text for r in results]
    assert warnings_about(caplog, "docs") == []  # a new session is routine, not an outage
    queries = sorted(str(call["arguments"]) for call in files.calls())
    expected = ["before", *(f"after {n}" for n in range(4))]
    assert queries == sorted(str({"query": query}) for query in expected)  # each ran once
