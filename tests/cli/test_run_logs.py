"""What `parley run` logs at info level: our lines, no HTTP client lines, no start-up noise."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import discord
import pytest
from slack_bolt.logger import messages

from bots.logs import actionable, configure_logging, unconfigure_logging
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import GENERAL, SlackWorld, slack, slack_env
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
