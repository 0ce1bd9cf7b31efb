"""Secrets stay out of every log line, even at debug where the platform libraries talk a lot;
message text stays out at info; the database is private to its owner."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bots.app import open_runtime
from core.types import ConversationKey
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import (
    GENERAL,
    HTTP_MODE,
    SIGNING_SECRET,
    SlackWorld,
    running_slack,
    slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.discord_server import wait_until
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_signing import signed_headers

__all__ = ["discord_env", "discord_world", "slack", "slack_env"]

MARKER = "okapi-lantern-9931"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record from every library at DEBUG, tracebacks included."""
    caplog.set_level(logging.DEBUG)
    yield caplog


def _leaks(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> list[str]:
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    return [secret for secret in secrets if secret in text]


async def test_slack_socket_mode_at_debug_logs_no_secret(
    debug_logs: pytest.LogCaptureFixture, slack: SlackWorld
) -> None:
    slack.openai.enqueue(Script(chunks=("fine",)))
    event = await slack.mention("hello")
    await slack.settled(GENERAL, event["ts"])
    assert len(debug_logs.records) > 20, "debug logging did not reach the libraries"
    secrets = ["sk-test-slack", slack.slack.bot_token, slack.slack.app_token]
    assert _leaks(debug_logs, secrets) == []


async def test_slack_http_mode_at_debug_logs_no_secret(
    debug_logs: pytest.LogCaptureFixture,
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, mode=HTTP_MODE)
    async with running_slack(config, fake_slack, fake_openai, socket_mode=False) as world:
        event = world.event("app_mention", f"<@{fake_slack.bot_user_id}> over http")
        body = json.dumps(fake_slack.event_callback(event)).encode()
        url = f"http://127.0.0.1:{world.bot.http_port}/slack/events"
        async with aiohttp.ClientSession() as session:
            for secret in (SIGNING_SECRET, "wrong-secret"):
                async with session.post(url, data=body, headers=signed_headers(body, secret)):
                    pass
        await world.settled(GENERAL, event["ts"])
    secrets = ["sk-test-slack", fake_slack.bot_token, SIGNING_SECRET]
    assert _leaks(debug_logs, secrets) == []


async def test_discord_at_debug_logs_no_secret_and_at_info_no_content(
    debug_logs: pytest.LogCaptureFixture, discord_world: DiscordWorld
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=(f"reply {MARKER}",)))
    thread = await world.say(f"tell me {MARKER}", mention=True)
    await world.bot_says(thread, f"reply {MARKER}")
    assert len(debug_logs.records) > 20, "debug logging did not reach the libraries"
    assert _leaks(debug_logs, ["sk-test-discord", world.discord.token]) == []
    info = [r for r in debug_logs.records if r.levelno >= logging.INFO]
    assert info, "nothing logged at info"
    assert not [r.getMessage() for r in info if MARKER in r.getMessage()]


async def test_the_database_and_its_wal_are_private_even_with_umask_0(
    debug_logs: pytest.LogCaptureFixture, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = tmp_path / "bots.yaml"
    config.write_text(
        "personas: {helper: {system_prompt: hi, model: gpt-4o-mini}}\n"
        "bots: [{name: c, platform: console, persona: helper}]\n"
        f"storage: {{path: {tmp_path / 'data' / 'p.db'}}}\n"
    )
    old = os.umask(0)
    try:
        async with open_runtime(config) as runtime:
            key = ConversationKey("console", "local", "c", "t")
            await runtime.store.forget(key)  # a write: the WAL and SHM now exist
            await wait_until(lambda: (tmp_path / "data" / "p.db-wal").exists())
            modes = {
                name: stat.S_IMODE((tmp_path / "data" / name).stat().st_mode)
                for name in ("p.db", "p.db-wal", "p.db-shm")
            }
    finally:
        os.umask(old)
    assert modes == {"p.db": 0o600, "p.db-wal": 0o600, "p.db-shm": 0o600}
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
