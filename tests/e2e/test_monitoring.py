"""/healthz and /metrics of `parley run`: real bots and clients against the fakes on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.app import Runtime, open_runtime, run_bots
from bots.platforms import startable_bots
from bots.replica import replica_name
from cli.main import main
from core.version import parley_version
from tests.e2e.discord_env import discord_env, write_config
from tests.e2e.slack_env import GENERAL, slack_env, write_slack_config
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import wait_for_state, wait_until

__all__ = ["discord_env", "slack_env"]

ANY_PORT = "monitoring: {host: 127.0.0.1, port: 0}\n"


@contextlib.asynccontextmanager
async def running(config: Path) -> AsyncIterator[Monitored]:
    """`parley run` in a task: every startable bot, and the endpoint on a free port."""
    async with open_runtime(config) as runtime:
        ready, _ = startable_bots(runtime.config.current)
        task = asyncio.create_task(run_bots(runtime, ready))
        try:
            await wait_until(lambda: runtime.monitor.port is not None)
            async with aiohttp.ClientSession() as http:
                monitored = Monitored(runtime, http)
                await monitored.until_healthy(True)
                yield monitored
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Monitored:
    def __init__(self, runtime: Runtime, http: aiohttp.ClientSession) -> None:
        self.runtime = runtime
        self.http = http
        self.url = f"http://127.0.0.1:{runtime.monitor.port}"

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(f"{self.url}/healthz") as response:
            body = await response.json()
            assert isinstance(body, dict)
            return response.status, body

    async def until_healthy(self, healthy: bool) -> dict[str, Any]:
        last: list[dict[str, Any]] = []

        async def reached() -> bool:
            status, body = await self.health()
            last[:] = [body]
            return (status == 200) == healthy

        await wait_for_state(reached, message=f"/healthz healthy={healthy}")
        assert last[0]["status"] == ("ok" if healthy else "unhealthy")
        return last[0]

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample by name and labels."""
        async with self.http.get(f"{self.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=")
            text = await response.text()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return samples

    async def value(self, name: str, **labels: str) -> float:
        return (await self.metrics()).get((name, frozenset(labels.items())), 0.0)

    async def until_value(
        self, name: str, wanted: Callable[[], float] | float, **labels: str
    ) -> None:
        """Polls until the sample equals `wanted` (called each time when it is a function)."""

        async def reached() -> bool:
            value = await self.value(name, **labels)
            return value == (wanted() if callable(wanted) else wanted)

        await wait_for_state(reached, message=f"{name}{labels} = {wanted}")


def slack_config(tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI) -> Path:
    return write_slack_config(tmp_path, slack, openai, extra=ANY_PORT)


async def mention(slack: FakeSlack, text: str) -> str:
    ts = slack.next_ts()
    event = {
        "type": "app_mention", "user": "U0ALICE", "text": f"<@{slack.bot_user_id}> {text}",
        "ts": ts, "event_ts": ts, "channel": GENERAL, "channel_type": "channel",
        "team": slack.team_id,
    }  # fmt: skip
    await slack.send_event(event)
    return ts


async def test_slack_turns_move_the_counters_and_health_reads_ok(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = slack_config(tmp_path, fake_slack, fake_openai)
    async with running(config) as parley:
        body = await parley.until_healthy(True)
        assert body["checks"] == {
            "database": "writable", "bot:team": "connected", "provider:fake": "unknown",
        }  # fmt: skip
        fake_openai.enqueue(Script(chunks=("Hi", " there"), usage=(120, 7, 40)))
        # Slack rate-limits the first words; slack_sdk waits Retry-After and tries again.
        fake_slack.fail_next("chat.startStream", status=429, retry_after=0)
        await mention(fake_slack, "hello")
        await parley.until_value("parley_turns_total", 1, bot="team", outcome="complete")

        metrics = await parley.metrics()
        model = frozenset({("model", "gpt-4o-mini")})
        for kind, count in (("prompt", 120), ("completion", 7), ("cached", 40)):
            assert metrics[("parley_model_tokens_total", model | {("kind", kind)})] == count
        latency = frozenset({("provider", "fake"), ("model", "gpt-4o-mini")})
        assert metrics[("parley_model_first_token_seconds_count", latency)] == 1
        assert metrics[("parley_model_reply_seconds_count", latency)] == 1
        assert metrics[("parley_active_turns", frozenset())] == 0
        slack = {"platform": "slack"}
        assert await parley.value("parley_platform_api_rate_limited_total", **slack) == 1
        # Every Web API request the fake saw is counted once its answer is back, the 429 and
        # its retry included (the reply's last edit may still be on its way).
        await parley.until_value(
            "parley_platform_api_calls_total", lambda: len(fake_slack.calls), **slack
        )
        assert len(fake_slack.calls_to("chat.startStream")) >= 2

        body = await parley.until_healthy(True)
        assert body["checks"]["provider:fake"] == "ok"
        assert body["replica"] == replica_name()


async def test_process_build_and_connection_figures_and_no_created_series(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running(slack_config(tmp_path, fake_slack, fake_openai)) as parley:
        fake_openai.enqueue(Script(chunks=("Hi",)))
        await mention(fake_slack, "hello")
        await parley.until_value("parley_turns_total", 1, bot="team", outcome="complete")
        async with parley.http.get(f"{parley.url}/metrics") as response:
            text = await response.text()
        assert "_created" not in text
        metrics = await parley.metrics()
        for name in ("process_resident_memory_bytes", "process_start_time_seconds"):
            assert metrics[(name, frozenset())] > 0, name
        assert metrics[("process_cpu_seconds_total", frozenset())] > 0
        assert metrics[("process_open_fds", frozenset())] > 0
        assert any(name == "python_info" for name, _ in metrics)
        python = ".".join(str(part) for part in sys.version_info[:3])
        build = {"version": parley_version(), "python": python, "replica": replica_name()}
        assert await parley.value("parley_build_info", **build) == 1
        assert await parley.value("parley_bot_connected", bot="team") == 1

        await fake_slack.stop()
        await parley.until_value("parley_bot_connected", 0, bot="team")


async def test_a_turn_in_progress_is_an_active_turn(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running(slack_config(tmp_path, fake_slack, fake_openai)) as parley:
        release = asyncio.Event()  # the turn stays active until the metric has shown it
        fake_openai.enqueue(Script(release=release))
        await mention(fake_slack, "take your time")
        await parley.until_value("parley_active_turns", 1)
        release.set()
        await parley.until_value("parley_active_turns", 0)
        assert await parley.value("parley_turns_total", bot="team", outcome="complete") == 1


async def test_health_names_a_locked_database_a_failing_provider_and_a_lost_slack(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running(slack_config(tmp_path, fake_slack, fake_openai)) as parley:
        database = parley.runtime.config.current.storage.path
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        # Off the event loop: a start-up write (retention, the interrupted-reply sweep) may
        # hold the lock across awaits, and blocking the loop here would stall it until
        # the busy timeout.
        await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
        try:
            body = await parley.until_healthy(False)
            assert body["failing"] == ["database"]
            assert "locked" in body["checks"]["database"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await parley.until_healthy(True)

        # max_retries is 1: both attempts fail, and so does the turn.
        fake_openai.enqueue(Script(status=500), Script(status=500))
        await mention(fake_slack, "are you there?")
        body = await parley.until_healthy(False)
        assert body["failing"] == ["provider:fake"]
        assert body["checks"]["provider:fake"] == "ProviderUnavailable"
        errors = {"bot": "team", "provider": "fake", "kind": "ProviderUnavailable"}
        assert await parley.value("parley_errors_total", **errors) == 1
        assert await parley.value("parley_turns_total", bot="team", outcome="failed") == 1
        await mention(fake_slack, "and now?")
        assert (await parley.until_healthy(True))["checks"]["provider:fake"] == "ok"

        await fake_slack.stop()
        body = await parley.until_healthy(False)
        assert body["failing"] == ["bot:team"]
        assert body["checks"]["bot:team"] == "disconnected"


async def test_discord_calls_and_429s_are_counted_and_a_lost_gateway_is_unhealthy(
    discord_env: None, tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    config.write_text(config.read_text() + ANY_PORT)
    async with running(config) as parley:
        assert (await parley.until_healthy(True))["checks"]["bot:disco"] == "connected"
        fake_discord.fail_next("POST", "/channels/", status=429, retry_after=0.01)
        text = f"<@{fake_discord.bot_user_id}> hello"
        event = fake_discord.message_create(
            fake_discord.channel_id, fake_discord.user_id, text, mentions=[fake_discord.bot_user_id]
        )
        await fake_discord.dispatch("MESSAGE_CREATE", event)
        await parley.until_value("parley_turns_total", 1, bot="disco", outcome="complete")
        await wait_until(lambda: bool(fake_discord.posted(str(event["id"]))))

        discord = {"platform": "discord"}
        assert await parley.value("parley_platform_api_rate_limited_total", **discord) == 1
        await parley.until_value(
            "parley_platform_api_calls_total", lambda: len(fake_discord.calls), **discord
        )
        assert len(fake_discord.calls) >= 3

        await fake_discord.stop()
        body = await parley.until_healthy(False)
        assert body["failing"] == ["bot:disco"]
        status = await asyncio.to_thread(
            main, ["health", "--config", str(fixed_port(parley, config))]
        )
        assert status == 1


def fixed_port(parley: Monitored, config: Path) -> Path:
    """A copy of the config naming the port the endpoint bound, for `parley health`."""
    port = parley.runtime.monitor.port
    copy = config.with_name("health.yaml")
    copy.write_text(config.read_text().replace("port: 0}", f"port: {port}}}"))
    return copy


async def test_parley_health_reports_the_endpoints_summary(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = slack_config(tmp_path, fake_slack, fake_openai)
    async with running(config) as parley:
        copy = fixed_port(parley, config)
        assert await asyncio.to_thread(main, ["health", "--config", str(copy)]) == 0
        assert capsys.readouterr().out == (
            "ok: database writable, bot:team connected, provider:fake unknown\n"
        )
        await fake_slack.stop()
        await parley.until_healthy(False)
        assert await asyncio.to_thread(main, ["health", "--config", str(copy)]) == 1
        assert capsys.readouterr().out == "unhealthy: bot:team disconnected\n"


async def test_a_taken_port_is_logged_once_and_the_bots_keep_running(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_slack_config(
            tmp_path, fake_slack, fake_openai, extra=f"monitoring: {{port: {port}}}\n"
        )
        async with open_runtime(config) as runtime:
            ready, _ = startable_bots(runtime.config.current)
            task = asyncio.create_task(run_bots(runtime, ready))
            try:
                await fake_slack.wait_connected()
                ts = await mention(fake_slack, "still there?")
                await wait_until(lambda: len(fake_slack.thread(GENERAL, ts)) >= 2)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"health and metrics endpoint not started on 127.0.0.1:{port}: ")
    assert errors[0].endswith("address already in use; the bots keep running")
