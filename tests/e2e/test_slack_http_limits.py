"""HTTP mode against clients that open connections and stop: the events URL stays served."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.slack_env import (
    GENERAL,
    SIGNING_SECRET,
    SlackWorld,
    running_slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_signing import signed_headers
from tests.fakes.waiting import deadline

__all__ = ["slack_env"]

CAP = 50
HALF_SENT = 60  # more than the cap
LIMITS = (
    "signing_secret: ${SLACK_SIGNING_SECRET}\n"
    f"    http: {{host: 127.0.0.1, port: 0, max_connections: {CAP},"
    " header_timeout_seconds: 0.5, body_timeout_seconds: 0.5}"
)
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def limited(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, mode=LIMITS)
    async with running_slack(config, fake_slack, fake_openai, socket_mode=False) as world:
        yield world


async def _open(world: SlackWorld, first_bytes: bytes) -> Stream:
    reader, writer = await asyncio.open_connection("127.0.0.1", world.bot.http_port)
    writer.write(first_bytes)
    await writer.drain()
    return reader, writer


async def _closed_by_parley(stream: Stream) -> bytes:
    """Everything Parley sent before it closed the connection."""
    reader, writer = stream
    try:
        return await reader.read()
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def _post_event(world: SlackWorld, text: str) -> str:
    event = world.event("app_mention", f"<@UBOT> {text}")
    body = json.dumps(world.slack.event_callback(event)).encode()
    url = f"http://127.0.0.1:{world.bot.http_port}/slack/events"
    async with (
        deadline(30, "the events URL answered"),
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=signed_headers(body, SIGNING_SECRET)) as response,
    ):
        assert response.status == 200
    return str(event["ts"])


async def test_half_sent_requests_neither_starve_events_nor_stay_open(
    limited: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    line = b"POST /slack/events HTTP/1.1\r\n"  # a request line, then nothing
    with caplog.at_level(logging.WARNING):
        streams = [await _open(limited, line) for _ in range(HALF_SENT)]
        limited.openai.enqueue(Script(chunks=("Still ", "here.")))
        thread = await _post_event(limited, "anyone?")
        replies = await limited.settled(GENERAL, thread)
        assert [r.markdown_text for r in replies] == ["Still here."]
        async with deadline(30, "every half-sent connection was closed"):
            leftovers = await asyncio.gather(*(_closed_by_parley(s) for s in streams))
    assert all(b"200" not in left for left in leftovers)  # none was taken for a request
    told = [r for r in caplog.records if "max_connections" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]


async def test_a_body_that_never_arrives_is_cut_off(limited: SlackWorld) -> None:
    headers = (
        b"POST /slack/events HTTP/1.1\r\nHost: parley\r\nContent-Type: application/json\r\n"
        b'X-Slack-Request-Timestamp: 1\r\nContent-Length: 1000\r\n\r\n{"type": '
    )
    stream = await _open(limited, headers)
    async with deadline(30, "the slow body was cut off"):
        answer = await _closed_by_parley(stream)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    limited.openai.enqueue(Script(chunks=("Fine.",)))
    thread = await _post_event(limited, "and now?")
    assert [r.markdown_text for r in await limited.settled(GENERAL, thread)] == ["Fine."]
