"""`parley run` at its quietest useful level (warning): every failed turn is there, with why."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bots.logs import configure_logging, unconfigure_logging
from tests.e2e.slack_env import GENERAL, SlackWorld, slack, slack_env
from tests.fakes.openai_server import Script

__all__ = ["slack", "slack_env"]


@pytest.fixture
def warning_logs() -> Iterator[io.StringIO]:
    """Parley's handler at warning level into a buffer, as `parley run --log-level warning`."""
    stream = io.StringIO()
    root = logging.getLogger().level
    configure_logging("warning", "text", stream)
    yield stream
    unconfigure_logging()
    logging.getLogger().setLevel(root)


def turn_lines(logs: io.StringIO) -> list[str]:
    return [line for line in logs.getvalue().splitlines() if " turn slack:" in line]


async def test_a_failed_turn_is_one_warning_line_with_its_reason(
    warning_logs: io.StringIO, slack: SlackWorld
) -> None:
    rejected = Script(status=400, error_message="The model `gpt-4o-mini` does not exist")
    slack.openai.enqueue(rejected)
    event = await slack.mention("hello")
    await slack.settled(GENERAL, event["ts"])

    (line,) = turn_lines(warning_logs)
    assert " WARNING core.engine: " in line and "outcome=failed" in line
    assert "error=ModelRequestRejected" in line and "does not exist" in line


async def test_a_cut_reply_is_a_warning_and_a_complete_one_stays_below_it(
    warning_logs: io.StringIO, slack: SlackWorld
) -> None:
    slack.openai.enqueue(Script(chunks=("fine",)))
    first = await slack.mention("first")
    await slack.settled(GENERAL, first["ts"])
    # Cut after the first words reached the user: partial, with the error that cut it.
    slack.openai.enqueue(Script(chunks=("half ", "of it"), cut_after=1))
    second = await slack.mention("second")
    await slack.settled(GENERAL, second["ts"])

    (line,) = turn_lines(warning_logs)  # the complete turn is an info line, not shown
    assert f"/{second['ts']} " in line and "outcome=partial" in line
    assert " WARNING core.engine: " in line and "error=StreamInterrupted" in line
