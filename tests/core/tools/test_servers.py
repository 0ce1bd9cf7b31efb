"""ToolServers against the real test MCP server, as a stdio child and over Streamable HTTP."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.tools.calls import ToolSpec
from core.tools.servers import ToolServers
from tests.core.tools.conftest import Served
from tests.fakes.waiting import wait_until


def server_stderr(served: Served, caplog: pytest.LogCaptureFixture) -> str:
    """What the server wrote on stderr: in Parley's debug log for a stdio child, in a file
    for the HTTP process the test started."""
    if served.http is None:
        return caplog.text
    return (served.files.directory / "http-server.stderr").read_text(encoding="utf-8")


def spec_of(servers: ToolServers, name: str) -> ToolSpec:
    return next(spec for spec in servers.tools() if spec.name == name)


async def test_tools_are_listed_with_their_read_only_hint(servers: ToolServers) -> None:
    specs = {spec.name: spec for spec in servers.tools()}
    assert set(specs) == {
        "docs.search",
        "docs.delete_page",
        "docs.slow",
        "docs.broken",
        "docs.big",
        "docs.env_names",
    }
    assert specs["docs.search"].read_only
    assert not specs["docs.delete_page"].read_only  # destructiveHint only
    assert not specs["docs.slow"].read_only  # no annotations at all
    search = specs["docs.search"]
    assert (search.server, search.tool) == ("docs", "search")
    assert search.description == "Searches the pages for a query."
    assert search.parameters["required"] == ["query"]


async def test_a_call_returns_the_tools_text_and_runs_it_once(
    servers: ToolServers, served: Served
) -> None:
    result = await servers.call(spec_of(servers, "docs.search"), {"query": "deploy"})
    assert not result.failed
    assert result.text == "3 pages match 'deploy': intro, setup, faq"
    assert served.files.calls() == [{"tool": "search", "arguments": {"query": "deploy"}}]


async def test_a_tool_error_is_a_failed_result_with_the_servers_text(
    servers: ToolServers,
) -> None:
    result = await servers.call(spec_of(servers, "docs.broken"), {})
    assert result.failed
    assert "the index is corrupt" in result.text


async def test_a_big_result_arrives_whole(servers: ToolServers) -> None:
    result = await servers.call(spec_of(servers, "docs.big"), {})
    assert not result.failed
    assert len(result.text) == 100_000
    assert result.text.startswith("0123456789")


async def test_a_cancelled_call_is_cancelled_on_the_server_which_stays_usable(
    servers: ToolServers, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.tools")
    call = asyncio.create_task(servers.call(spec_of(servers, "docs.slow"), {"seconds": 60}))
    await served.files.slow_started()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await wait_until(lambda: "slow was cancelled" in server_stderr(served, caplog))
    result = await servers.call(spec_of(servers, "docs.search"), {"query": "after"})
    assert result.text.startswith("3 pages match 'after'")


async def test_an_unknown_tool_is_a_failed_result(servers: ToolServers) -> None:
    missing = ToolSpec("docs.nothing", "docs", "nothing", "")
    result = await servers.call(missing, {})
    assert result.failed
    assert "nothing" in result.text
