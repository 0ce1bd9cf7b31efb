"""Slack events into IncomingMessages: which events become a turn, and what core is told.

No network: names come from the directory's cache (empty here), lookups are lazy, and the
engine is a recorder, so nothing the router builds is ever sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.config import SlackBotConfig
from bots.slack.directory import Directory
from bots.slack.lookups import BotIdentity
from bots.slack.router import SlackEventRouter
from bots.tasks import TurnTasks
from bots.throttle import ChannelThrottle
from core.config import BotConfig, SecretRef
from core.coordination import Coordination
from core.types import (
    ApprovalClick,
    ApprovalResult,
    ConversationKey,
    FeedbackClick,
    FeedbackResult,
    IncomingMessage,
    ReplySink,
    TurnOutcome,
)
from tests.fakes.waiting import wait_until

TEAM, GENERAL, DM = "T0ACME", "C0GENERAL", "D0ALICE"
ALICE, ADMIN = "U0ALICE", "U0ADMIN"
ME = BotIdentity(user_id="U0BOT", bot_id="B0BOT")
TS, THREAD = "1700000100.000100", "1700000050.000100"


class RecordingEngine:
    """Core as the router sees it; records each message and answers nothing."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []

    async def handle(self, message: IncomingMessage, reply: ReplySink) -> TurnOutcome:
        self.messages.append(message)
        return TurnOutcome("complete", "", handled_as="ignored")

    # The rest of the port; the router never needs it.
    def bot(self, name: str) -> BotConfig:
        raise AssertionError("the router reads its own config")

    def persona_names(self) -> list[str]:
        raise AssertionError("not the router's")

    @property
    def coordination(self) -> Coordination:
        raise AssertionError("not the router's")

    async def link(self, message: IncomingMessage, posted: list[str]) -> None:
        raise AssertionError("not the router's")

    async def seen(self, scope: str, value: str) -> bool:
        raise AssertionError("not the router's")

    async def feedback(self, click: FeedbackClick) -> FeedbackResult:
        return "unknown"

    async def approve(self, click: ApprovalClick) -> ApprovalResult:
        return "unknown"

    async def record(self, scope: str, value: str) -> None:
        raise AssertionError("not the router's")


def config(**fields: Any) -> SlackBotConfig:
    return SlackBotConfig(
        name="team",
        platform="slack",
        persona="helper",
        bot_token=SecretRef("SLACK_BOT_TOKEN", "bots[0].bot_token"),
        app_token=SecretRef("SLACK_APP_TOKEN", "bots[0].app_token"),
        admins=(ADMIN,),
        **fields,
    )


class Harness:
    def __init__(self, files: aiohttp.ClientSession) -> None:
        self.engine = RecordingEngine()
        self.tasks = TurnTasks()
        self.bot = config()
        client = AsyncWebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/")
        self.router = SlackEventRouter(
            bot=lambda: self.bot,
            engine=self.engine,
            client=client,
            directory=Directory(client),
            files=files,
            token="xoxb-unused",
            tasks=self.tasks,
            edits=ChannelThrottle(),
        )

    async def mention(self, text: str = "<@U0BOT> hello", **fields: Any) -> list[IncomingMessage]:
        self.router.on_mention(event(text, **fields), TEAM, ME)
        return await self.handled()

    async def message(self, text: str = "hello", **fields: Any) -> list[IncomingMessage]:
        self.router.on_message(event(text, **fields), TEAM, ME)
        return await self.handled()

    async def handled(self) -> list[IncomingMessage]:
        # Waits for every turn task the event started (none, if it was dropped).
        await wait_until(lambda: len(self.tasks) == 0, message="the turn tasks ended")
        return self.engine.messages


def event(text: str, **fields: Any) -> dict[str, Any]:
    channel = fields.pop("channel", GENERAL)
    return {
        "type": "message",
        "user": ALICE,
        "text": text,
        "ts": TS,
        "channel": channel,
        "channel_type": "im" if channel.startswith("D") else "channel",
        **fields,
    }


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with aiohttp.ClientSession() as files:
        yield Harness(files)


async def test_a_channel_mention_starts_a_thread_of_its_own(harness: Harness) -> None:
    (message,) = await harness.mention("<@U0BOT> what is new?")
    assert message.key == ConversationKey("slack", TEAM, GENERAL, TS)
    assert message.text == "what is new?"
    assert (message.bot, message.message_id, message.delivery) == ("team", TS, f"{GENERAL}:{TS}")
    assert message.addressed and message.allowed
    assert not (message.admin or message.from_bot or message.joined_late)
    # No name known yet: the id stands in until core has the lookups ask Slack.
    assert (message.author.id, message.author.display_name) == (ALICE, ALICE)
    assert message.lookups is not None


async def test_a_mention_inside_a_thread_joins_that_thread(harness: Harness) -> None:
    (message,) = await harness.mention(thread_ts=THREAD)
    assert message.key == ConversationKey("slack", TEAM, GENERAL, THREAD)
    assert message.joined_late  # Parley may not have seen the thread's start


@pytest.mark.parametrize(
    "fields",
    [
        {},  # a top-level channel message: nobody asked Parley
        {"text": "<@U0BOT> hi", "thread_ts": THREAD},  # the app_mention event answers it
        {"thread_ts": THREAD, "subtype": "message_changed"},
        {"thread_ts": THREAD, "subtype": "message_deleted"},
        {"thread_ts": THREAD, "subtype": "channel_join"},
        {"thread_ts": THREAD, "user": ME.user_id},  # Parley's own reply
        {"thread_ts": THREAD, "user": None, "bot_id": ME.bot_id},
    ],
    ids=["top_level", "mention", "edit", "delete", "join", "own_user", "own_bot"],
)
async def test_message_events_that_are_not_a_turn_start_nothing(
    harness: Harness, fields: dict[str, Any]
) -> None:
    text = fields.pop("text", "hello")
    assert await harness.message(text, **fields) == []
    assert len(harness.tasks) == 0


async def test_parleys_own_mention_event_is_dropped(harness: Harness) -> None:
    assert await harness.mention(user=ME.user_id) == []


async def test_a_thread_reply_goes_to_core_unaddressed(harness: Harness) -> None:
    (message,) = await harness.message("and then?", thread_ts=THREAD)
    assert message.key == ConversationKey("slack", TEAM, GENERAL, THREAD)
    assert not message.addressed  # core decides whether the thread is Parley's
    assert message.text == "and then?"


async def test_thread_replies_mentions_only_drops_plain_replies(harness: Harness) -> None:
    harness.bot = config(thread_replies="mentions")
    assert await harness.message("and then?", thread_ts=THREAD) == []


async def test_in_the_agent_view_each_dm_message_starts_a_thread(harness: Harness) -> None:
    (first,) = await harness.message("hi", channel=DM)
    assert first.key == ConversationKey("slack", TEAM, DM, TS) and first.addressed
    harness.engine.messages.clear()
    (follow_up,) = await harness.message("and?", channel=DM, thread_ts=TS)
    assert follow_up.key == first.key


async def test_on_the_assistant_pane_a_dm_is_one_conversation_at_the_top(
    harness: Harness,
) -> None:
    harness.bot = config(experience="assistant")
    (top,) = await harness.message("hi", channel=DM)
    assert top.key == ConversationKey("slack", TEAM, DM, "dm")
    assert top.addressed
    harness.engine.messages.clear()
    (pane,) = await harness.message("hi", channel=DM, thread_ts=THREAD)  # the assistant pane
    assert pane.key == ConversationKey("slack", TEAM, DM, THREAD)


async def test_a_file_share_is_answered_with_its_files(harness: Harness) -> None:
    file = {"name": "a.txt", "mimetype": "text/plain", "size": 3, "url_private": "u"}
    (message,) = await harness.message(
        "look", channel=DM, subtype="file_share", files=[file, "junk"]
    )
    assert [(a.filename, a.ref) for a in message.attachments] == [("a.txt", "u")]


async def test_another_bots_message_is_marked_as_a_bots(harness: Harness) -> None:
    (message,) = await harness.mention(user=None, bot_id="B0OTHER")
    assert message.from_bot and message.author.id == "B0OTHER"


async def test_access_lists_mark_the_message_and_core_refuses(harness: Harness) -> None:
    harness.bot = config(allowed_users=("U0BOB",), allowed_channels=("C0OTHER",))
    (denied,) = await harness.mention()
    assert not denied.allowed
    harness.bot = config(allowed_channels=("C0OTHER",))
    (_, dm) = await harness.message("hi", channel=DM)
    assert dm.allowed  # DMs are not channels an allow-list names
    (*_, admin) = await harness.mention(user=ADMIN)
    assert admin.admin and not admin.allowed  # admins pass allowed_users, not channels
    harness.bot = config(allowed_users=("U0BOB",))
    (*_, admitted) = await harness.mention(user=ADMIN)
    assert admitted.allowed
