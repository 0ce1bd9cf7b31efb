"""Logs in production shape: JSON lines, a structured turn line, no content and no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bots.logs import configure_logging, unconfigure_logging
from cli.main import main
from tests.e2e.conftest import write_config
from tests.e2e.slack_env import GENERAL, SIGNING_SECRET, SlackWorld, slack, slack_env
from tests.fakes.openai_server import Script

__all__ = ["slack", "slack_env"]

MARKER = "zebra-umbrella-0427"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Parley's handler writing JSON at info level into a buffer, as `parley run` would."""
    stream = io.StringIO()
    level = logging.getLogger().level
    configure_logging("info", "json", stream)
    yield stream
    unconfigure_logging()
    logging.getLogger().setLevel(level)


def parsed(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_a_slack_turn_logs_fields_but_no_content_or_secrets(
    json_logs: io.StringIO, slack: SlackWorld
) -> None:
    slack.openai.enqueue(Script(chunks=(f"I will keep {MARKER} ", "safe."), usage=(33, 5, 0)))
    event = await slack.mention(f"please remember {MARKER}")
    await slack.settled(GENERAL, event["ts"])

    text = json_logs.getvalue()
    entries = parsed(text)
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    (turn,) = [e for e in entries if e["message"].startswith("turn ")]
    assert (turn["logger"], turn["level"], turn["bot"], turn["persona"]) == (
        "core.engine",
        "info",
        "team",
        "helper",
    )
    assert turn["key"] == f"slack:T0ACME/{GENERAL}/{event['ts']}"
    assert (turn["model"], turn["outcome"], turn["error"]) == ("gpt-4o-mini", "complete", None)
    assert (turn["prompt_tokens"], turn["completion_tokens"]) == (33, 5)
    assert 0 < turn["latency_s"] < 30 and turn["first_token_s"] is not None
    assert any(e["message"].startswith("retention: deleted") for e in entries)
    assert MARKER not in text
    for secret in (
        "sk-test-slack",
        slack.slack.bot_token,
        slack.slack.app_token,
        SIGNING_SECRET,
    ):
        assert secret not in text


def run_with_logging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra_args: str
) -> tuple[int, str]:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-never-logged-1234")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    config.write_text(config.read_text() + "logging:\n  format: json\n  level: info\n")
    code = main(["run", "--config", str(config), *extra_args])
    return code, str(config)


def test_run_logs_json_lines_when_bots_yaml_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_with_logging(tmp_path, monkeypatch)
    assert code == 1
    entries = parsed(capsys.readouterr().err)
    warnings = [e["message"] for e in entries if e["level"] == "warning"]
    assert "cannot start bot parley (console): " in warnings[0]
    assert entries[-1]["level"] == "error" and entries[-1]["logger"] == "parley"


def test_the_command_line_level_wins_over_bots_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_with_logging(tmp_path, monkeypatch, "--log-level", "error")
    assert code == 1
    entries = parsed(capsys.readouterr().err)
    assert [e["level"] for e in entries] == ["error"]
    assert "nothing to run" in entries[0]["message"]
