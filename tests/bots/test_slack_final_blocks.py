"""The feedback buttons under a Slack reply's last message: carried by chat.stopStream when
streamed natively, by the final chat.update when edited; the real slack_sdk against the fake
Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bots.reply import StreamedReply
from bots.slack.feedback import feedback_block
from bots.slack.reply import SlackReplyBinding, workspace_edit_budget
from bots.slack.stream import Recipient, SlackStreamBinding, workspace_append_budget
from core.types import TurnSummary
from tests.fakes.slack_server import FakeSlack

CHANNEL, ALICE = "C0GENERAL", "U0ALICE"
REPLY_ID = 42
BUTTONS: list[dict[str, Any]] = [feedback_block(REPLY_ID)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHANNEL, "general")
        yield fake


def _bindings(fake: FakeSlack) -> tuple[SlackReplyBinding, str]:
    root = fake.add_message(CHANNEL, fake.next_ts(), ALICE, "question")
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    edits = SlackReplyBinding(
        client,
        team_id=fake.team_id,
        channel=CHANNEL,
        thread_ts=root.ts,
        bot_name="team",
        token_var="SLACK_BOT_TOKEN",
        budget=workspace_edit_budget(),
        placeholder=False,
        feedback=True,
    )
    return edits, root.ts


async def _answer(reply: StreamedReply[str]) -> None:
    await reply.start()
    await reply.append("Hello")
    await reply.append(" world")
    await reply.finish(TurnSummary(reply_id=REPLY_ID))


async def test_a_native_stream_ends_with_the_buttons_at_its_stop(fake: FakeSlack) -> None:
    edits, root = _bindings(fake)
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    native = SlackStreamBinding(
        edits,
        client,
        channel=CHANNEL,
        thread_ts=root,
        recipient=Recipient(ALICE, fake.team_id),
        refused=set(),
        budget=workspace_append_budget(),
        status=False,
    )
    await _answer(StreamedReply(native))
    reply = fake.thread(CHANNEL, root)[-1]
    (stop,) = fake.calls_to("chat.stopStream")
    assert stop.params["blocks"] == BUTTONS
    assert (reply.markdown_text, reply.blocks) == ("Hello world", BUTTONS)
    assert fake.calls_to("chat.update") == []


async def test_an_edited_reply_ends_with_the_buttons_at_its_last_update(fake: FakeSlack) -> None:
    edits, root = _bindings(fake)
    await _answer(StreamedReply(edits))
    reply = fake.thread(CHANNEL, root)[-1]
    last = fake.calls_to("chat.update")[-1]
    # Slack takes markdown_text or blocks: the text becomes a markdown block above them.
    assert last.params["blocks"] == [{"type": "markdown", "text": "Hello world"}, *BUTTONS]
    assert reply.text == "Hello world"
