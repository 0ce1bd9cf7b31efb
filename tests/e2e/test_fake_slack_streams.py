"""FakeSlack's chat.startStream / appendStream / stopStream against the real slack_sdk: the
checks and errors Slack documents, and a stream a test expires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_streams import MARKDOWN_TEXT_LIMIT

CHANNEL, DM, ALICE = "C0GENERAL", "D0ALICE", "U0ALICE"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHANNEL, "general")
        fake.add_channel(DM, "", is_im=True)
        yield fake


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


async def _error(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


async def test_a_stream_grows_one_message_and_stop_ends_it(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    root = fake.add_message(CHANNEL, fake.next_ts(), ALICE, "question")
    started = await client.chat_startStream(
        channel=CHANNEL,
        thread_ts=root.ts,
        markdown_text="Hello",
        recipient_user_id=ALICE,
        recipient_team_id=fake.team_id,
    )
    ts = str(started["ts"])
    await client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text=" world")
    blocks = [{"type": "context_actions", "elements": []}]
    await client.chat_stopStream(channel=CHANNEL, ts=ts, markdown_text="!", blocks=blocks)
    (reply,) = [m for m in fake.thread(CHANNEL, root.ts) if m.ts == ts]
    assert (reply.markdown_text, reply.thread_ts, reply.blocks) == ("Hello world!", root.ts, blocks)
    assert fake.streams.shown == ["Hello", "Hello world", "Hello world!"]
    # A stopped stream takes nothing more.
    more = client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="?")
    assert await _error(more) == "message_not_in_streaming_state"


async def test_a_channel_stream_needs_a_thread_and_its_recipient(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    root = fake.add_message(CHANNEL, fake.next_ts(), ALICE, "question")
    # slack_sdk's signature requires thread_ts; an empty one is what a missing one sends.
    no_thread = client.chat_startStream(
        channel=CHANNEL, thread_ts="", recipient_user_id=ALICE, recipient_team_id=fake.team_id
    )
    assert await _error(no_thread) == "invalid_arguments"
    no_team = client.chat_startStream(channel=CHANNEL, thread_ts=root.ts, recipient_user_id=ALICE)
    assert await _error(no_team) == "missing_recipient_team_id"
    no_user = client.chat_startStream(
        channel=CHANNEL, thread_ts=root.ts, recipient_team_id=fake.team_id
    )
    assert await _error(no_user) == "missing_recipient_user_id"
    # In a DM Slack knows whom the stream is for.
    dm_root = fake.add_message(DM, fake.next_ts(), ALICE, "hi")
    assert (await client.chat_startStream(channel=DM, thread_ts=dm_root.ts))["ok"]
    assert fake.streams.started == [(DM, fake.streams.started[0][1])]


async def test_markdown_text_over_12000_characters_is_refused(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    root = fake.add_message(CHANNEL, fake.next_ts(), ALICE, "question")
    too_long = "x" * (MARKDOWN_TEXT_LIMIT + 1)
    start = client.chat_startStream(
        channel=CHANNEL,
        thread_ts=root.ts,
        markdown_text=too_long,
        recipient_user_id=ALICE,
        recipient_team_id=fake.team_id,
    )
    assert await _error(start) == "msg_too_long"
    started = await client.chat_startStream(
        channel=CHANNEL,
        thread_ts=root.ts,
        markdown_text="x" * MARKDOWN_TEXT_LIMIT,
        recipient_user_id=ALICE,
        recipient_team_id=fake.team_id,
    )
    append = client.chat_appendStream(channel=CHANNEL, ts=started["ts"], markdown_text=too_long)
    assert await _error(append) == "msg_too_long"
    # Each call is limited, not the message: it may grow past 12,000 a call at a time.
    await client.chat_appendStream(channel=CHANNEL, ts=started["ts"], markdown_text="y")
    assert len(fake.thread(CHANNEL, root.ts)[-1].text) == MARKDOWN_TEXT_LIMIT + 1


async def test_an_expired_stream_refuses_appends_and_stops_but_takes_updates(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    root = fake.add_message(CHANNEL, fake.next_ts(), ALICE, "question")
    started = await client.chat_startStream(
        channel=CHANNEL,
        thread_ts=root.ts,
        markdown_text="Part",
        recipient_user_id=ALICE,
        recipient_team_id=fake.team_id,
    )
    ts = str(started["ts"])
    fake.expire_stream(CHANNEL, ts)
    append = client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text=" two")
    assert await _error(append) == "message_not_in_streaming_state"
    assert await _error(client.chat_stopStream(channel=CHANNEL, ts=ts)) == (
        "message_not_in_streaming_state"
    )
    await client.chat_update(channel=CHANNEL, ts=ts, markdown_text="Part two")
    assert fake.thread(CHANNEL, root.ts)[-1].markdown_text == "Part two"
    with pytest.raises(AssertionError):
        fake.expire_stream(CHANNEL, ts)  # only an open stream expires
