"""What `parley run` logs at info level around a model call: our lines, not the HTTP client's."""

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
def info_logs() -> Iterator[io.StringIO]:
    """Parley's handler at info level into a buffer, as `parley run` sets it up."""
    stream = io.StringIO()
    levels = {
        name: logging.getLogger(name).level
        for name in ("", "httpx", "httpx2", "httpcore", "httpcore2")
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
