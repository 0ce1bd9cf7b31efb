"""A server that times out, cannot be reached, dies mid-call or comes back: failed results
and one log line, never an exception, and the next call reconnects."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from core.config.tools import ToolServerConfig
from core.tools.calls import ToolSpec
from core.tools.servers import ToolServers
from tests.core.tools.conftest import Served
from tests.core.tools.helpers import SEARCH, SLOW, closed_port, warnings_about
from tests.fakes.mcp_fixtures import HttpToolsServer, ToolsServerFiles, http_config, stdio_config
from tests.fakes.waiting import wait_until


async def test_a_call_past_the_timeout_fails_and_the_next_call_works(served: Served) -> None:
    # Long enough to connect on a loaded machine, short enough to wait out once.
    config = served.config.model_copy(update={"timeout": 3})
    servers = ToolServers({"docs": config})
    await servers.start()
    try:
        result = await servers.call(SLOW, {"seconds": 60})
        assert result.failed
        assert result.text == "timed out after 3 s"
        after = await servers.call(SEARCH, {"query": "again"})
        assert not after.failed, after.text
    finally:
        await servers.close()


@pytest.mark.parametrize("where", ["no such command", "closed port", "no handshake"])
async def test_an_unreachable_server_is_left_out_with_one_warning(
    where: str, files: ToolsServerFiles, caplog: pytest.LogCaptureFixture
) -> None:
    if where == "no such command":
        config = stdio_config(files).model_copy(update={"command": "/nonexistent/mcp-server"})
    elif where == "no handshake":
        config = silent_child(files, timeout=1)
    else:
        config = http_config(f"http://127.0.0.1:{closed_port()}/mcp")
    servers = ToolServers({"docs": config})
    with caplog.at_level(logging.DEBUG, logger="core.tools"):
        await servers.start()
        assert servers.tools() == ()
        result = await servers.call(SEARCH, {"query": "x"})
        assert servers.tools() == ()
    await servers.close()
    assert result.failed
    assert "not reachable" in result.text
    [warning] = warnings_about(caplog, "docs")
    assert "tool server docs is unreachable" in warning
    assert "tried again in 60 s" in warning


async def test_a_server_down_at_start_is_retried_after_its_back_off(
    files: ToolsServerFiles, caplog: pytest.LogCaptureFixture
) -> None:
    http = HttpToolsServer(files, port=closed_port())
    servers = ToolServers({"docs": http_config(http.url)}, retry_after=0)
    try:
        with caplog.at_level(logging.INFO, logger="core.tools"):
            await servers.start()
            assert servers.tools() == ()
            await http.start()
            await wait_until(lambda: len(servers.tools()) == 6)
        back = [r for r in caplog.records if r.levelno == logging.INFO and "back" in r.message]
        assert [r.getMessage() for r in back] == ["tool server docs is back (6 tools)"]
        assert len(warnings_about(caplog, "docs")) == 1  # the failures between: debug only
    finally:
        await servers.close()
        await http.kill()


async def test_a_server_killed_mid_call_fails_it_and_the_next_call_reconnects(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    servers = ToolServers({"docs": served.config})
    await servers.start()
    try:
        call = asyncio.create_task(servers.call(SLOW, {"seconds": 60}))
        pid = await served.files.slow_started()
        if served.http is None:
            os.kill(pid, signal.SIGKILL)
        else:
            await served.http.kill()
            await served.http.start()  # the same port: the endpoint is back, the session gone
        result = await call
        assert result.failed
        assert result.text.startswith("tool server docs:")
        after = await servers.call(SEARCH, {"query": "again"})
        assert not after.failed, after.text
    finally:
        await servers.close()
    started = [c["tool"] for c in served.files.calls()]
    assert started == ["slow", "search"]  # the killed call was not run again


def test_stdio_children_get_only_their_config_env(
    files: ToolsServerFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-for-tools")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-tools")
    config = stdio_config(files, DOCS_TOKEN="given")
    names = asyncio.run(_env_names(config)).split("\n")
    assert "DOCS_TOKEN" in names and "PATH" in names
    assert "SLACK_BOT_TOKEN" not in names and "OPENAI_API_KEY" not in names
    assert "PYTHONPATH" not in names  # nothing of Parley's own environment


async def _env_names(config: ToolServerConfig) -> str:
    servers = ToolServers({"docs": config})
    await servers.start()
    try:
        result = await servers.call(ToolSpec("docs.env_names", "docs", "env_names", ""), {})
    finally:
        await servers.close()
    assert not result.failed, result.text
    return result.text


def test_it_works_on_uvloop(files: ToolsServerFiles) -> None:
    uvloop = pytest.importorskip("uvloop")
    names = uvloop.run(_env_names(stdio_config(files))).split("\n")
    assert "MCP_CALL_LOG" in names


@pytest.mark.parametrize("during_a_call", [False, True])
async def test_close_stops_and_reaps_the_child(
    files: ToolsServerFiles, during_a_call: bool
) -> None:
    servers = ToolServers({"docs": stdio_config(files)})
    await servers.start()
    call = asyncio.create_task(servers.call(SLOW, {"seconds": 60 if during_a_call else 0}))
    pid = await files.slow_started()
    if not during_a_call:
        assert (await call).text == "done"
    await servers.close()
    with pytest.raises(ProcessLookupError):  # a zombie would still answer signal 0
        os.kill(pid, 0)
    result = await call
    assert result.failed == during_a_call


async def test_the_childs_stderr_goes_to_the_debug_log_and_arguments_stay_below_info(
    files: ToolsServerFiles, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    servers = ToolServers({"docs": stdio_config(files)})
    with caplog.at_level(logging.DEBUG, logger="core.tools"):
        await servers.start()
        try:
            await servers.call(SEARCH, {"query": "secret plans"})
            await wait_until(lambda: "stderr: searching for 'secret plans'" in caplog.text)
        finally:
            await servers.close()
    above_debug = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    assert not [line for line in above_debug if "secret plans" in line]
    assert "secret plans" not in capfd.readouterr().err  # not on the terminal


def server_children() -> list[int]:
    """Pids of this process's children running the test server, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:
            continue  # ended while we looked
        if parent == os.getpid() and b"mcp_tools_server" in command:
            found.append(int(entry))
    return found


def silent_child(files: ToolsServerFiles, timeout: float = 30.0) -> ToolServerConfig:
    """A child that reads its stdin and never answers: connecting to it never ends."""
    silent = ("-c", "import sys; sys.stdin.read()  # mcp_tools_server that never answers")
    return stdio_config(files, timeout=timeout).model_copy(update={"args": silent})


async def test_closing_while_connecting_leaves_no_child(files: ToolsServerFiles) -> None:
    assert server_children() == []
    servers = ToolServers({"docs": silent_child(files)})
    start = asyncio.create_task(servers.start())
    await wait_until(lambda: bool(server_children()))
    [pid] = server_children()
    start.cancel()
    with pytest.raises(asyncio.CancelledError):
        await start
    await servers.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_child_that_dies_between_calls_is_started_again_at_the_next_call(
    files: ToolsServerFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.tools")
    servers = ToolServers({"docs": stdio_config(files)})
    await servers.start()
    try:
        assert (await servers.call(SLOW, {"seconds": 0})).text == "done"
        os.kill(await files.slow_started(), signal.SIGKILL)
        await wait_until(lambda: "tool server docs: session closed" in caplog.text)
        after = await servers.call(SEARCH, {"query": "again"})
        assert not after.failed, after.text
    finally:
        await servers.close()
    [warning] = warnings_about(caplog, "docs")
    assert "its process exited" in warning
    assert "tool server docs is back (6 tools)" in caplog.text
