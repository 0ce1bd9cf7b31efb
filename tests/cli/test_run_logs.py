"""What `parley run` logs at info level: our lines, no HTTP client lines, no start-up noise."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
from slack_bolt.logger import messages

from bots.logs import actionable, configure_logging, unconfigure_logging
from core.tools.calls import ToolSpec
from core.tools.servers import ToolServers
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import GENERAL, SlackWorld, slack, slack_env
from tests.fakes.mcp_fixtures import HttpToolsServer, ToolsServerFiles, http_config
from tests.fakes.openai_server import Script

__all__ = ["discord_env", "discord_world", "slack", "slack_env"]


@pytest.fixture
def info_logs() -> Iterator[io.StringIO]:
    """Parley's handler at info level into a buffer, as `parley run` sets it up."""
    stream = io.StringIO()
    levels = {
        name: logging.getLogger(name).level
        for name in ("", "httpx", "httpx2", "httpcore", "httpcore2", "mcp")
    }
    configure_logging("info", "text", stream)
    yield stream
    unconfigure_logging()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_a_model_call_leaves_no_http_request_line(
    info_logs: io.StringIO, slack: SlackWorld
) -> None:
    slack.openai.enqueue(Script(chunks=("fine",)))
    event = await slack.mention("hello")
    await slack.settled(GENERAL, event["ts"])

    text = info_logs.getvalue()
    assert " turn " in text  # our own info line is there, so info level was on
    # The fakes' own server logs (aiohttp.access) are the test's, not Parley's.
    assert "HTTP Request:" not in text
    assert not [line for line in text.splitlines() if " INFO httpx" in line]


async def test_a_slack_bot_starts_without_a_warning(
    info_logs: io.StringIO, slack: SlackWorld
) -> None:
    """slack_bolt warned twice on every start about a token it does not use."""
    slack.openai.enqueue(Script(chunks=("fine",)))
    event = await slack.mention("hello")
    await slack.settled(GENERAL, event["ts"])

    lines = info_logs.getvalue().splitlines()
    assert any("listening over Socket Mode" in line for line in lines)
    assert [line for line in lines if " WARNING " in line or " ERROR " in line] == []


@pytest.fixture
def voice_warnings_armed(monkeypatch: pytest.MonkeyPatch) -> None:
    """discord.py warns once per process; armed again, whichever test ran before."""
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)


async def test_a_discord_bot_starts_without_a_warning(
    info_logs: io.StringIO, voice_warnings_armed: None, discord_world: DiscordWorld
) -> None:
    lines = info_logs.getvalue().splitlines()
    assert any("has connected to Gateway" in line for line in lines)
    assert [line for line in lines if " WARNING " in line or " ERROR " in line] == []


def test_the_dropped_lines_are_the_libraries_own_texts(
    voice_warnings_armed: None, caplog: pytest.LogCaptureFixture
) -> None:
    """If a library rewords them, its warnings come back rather than being silently kept."""
    discord.Client(intents=discord.Intents.none())
    voice = [r for r in caplog.records if r.name == "discord.client" and "voice" in r.getMessage()]
    assert len(voice) == 2
    assert not any(actionable(record) for record in voice)

    for text in (
        messages.warning_client_prioritized_and_token_skipped(),
        messages.warning_token_skipped(),
    ):
        record = logging.LogRecord("slack_bolt.AsyncApp", logging.WARNING, "", 0, text, (), None)
        assert not actionable(record)
    other = logging.LogRecord("slack_bolt.AsyncApp", logging.WARNING, "", 0, "other", (), None)
    assert actionable(other)


async def test_an_mcp_server_restart_costs_no_warning_but_ours(
    info_logs: io.StringIO, tmp_path: Path
) -> None:
    """A server of the 2025 protocol forgets its sessions when it restarts; the SDK warns
    that it could not end the old one, which is why Parley ends it and opens another."""
    files = ToolsServerFiles(tmp_path)
    http = HttpToolsServer(files, env={"MCP_HTTP_LEGACY": "1"})
    await http.start()
    servers = ToolServers({"docs": http_config(http.url)})
    search = ToolSpec("docs.search", "docs", "search", "")
    try:
        await servers.start()
        await http.kill()
        await http.start()
        result = await servers.call(search, {"query": "after a restart"})
    finally:
        await servers.close()
        await http.kill()
    assert not result.failed, result.text
    assert len(files.calls()) == 1  # the expired session's call was refused, then sent again
    lines = info_logs.getvalue().splitlines()
    assert [line for line in lines if " WARNING " in line or " ERROR " in line] == []


def test_the_pool_retrying_while_postgresql_restarts_is_one_line(info_logs: io.StringIO) -> None:
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as error:
        logging.getLogger("asyncpg.pool").warning(
            "Failed to restore the pool connection floor; retrying", exc_info=error
        )
    assert (
        info_logs.getvalue()
        .splitlines()[-1]
        .endswith(
            "WARNING asyncpg.pool: Failed to restore the pool connection floor; retrying: "
            "ConnectionRefusedError: [Errno 111] Connection refused"
        )
    )
    assert "Traceback" not in info_logs.getvalue()
