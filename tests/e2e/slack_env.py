"""Parley's Slack bot through the real composition root, against the fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bots.app import Runtime, open_runtime
from bots.slack.bot import SlackBot
from bots.slack.config import SlackBotConfig
from bots.slack.reply import MESSAGE_LIMIT
from bots.slack.stream import STREAM_LIMIT
from core.types import ConversationKey
from tests.e2e.turns import TurnWatch, watching_turns
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeMessage, FakeSlack, wait_until
from tests.fakes.waiting import wait_for_state

GENERAL, PIRATES, DM = "C0GENERAL", "C0PIRATE", "D0ALICE"
ALICE, BOB, ADMIN = "U0ALICE", "U0BOB", "U0ADMIN"

CONFIG = """\
providers:
  fake:
    base_url: {openai_url}
    api_key: ${{PARLEY_TEST_KEY}}
    timeout: 2
    max_retries: 1
personas:
  helper:
    system_prompt: >-
      You are {{bot_name}} in {{workspace_name}}, {{channel_name}}, with {{user_name}}.
    model: gpt-4o-mini
    provider: fake
    max_tokens: 256
    context_tokens: 8000
  pirate:
    system_prompt: "Talk like a pirate."
    model: gpt-4o
    provider: fake
    max_tokens: 256
    context_tokens: 8000
bots:
  - name: team
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    {mode}
    api_base_url: {slack_url}
    channels:
      C0PIRATE: {{persona: pirate}}
    admins: [U0ADMIN]
    suggested_prompts:
      - {{title: "Summarize", message: "Summarize this thread for me"}}
{extra}
storage:
  path: {database}
"""
ADMINS = "    admins: [U0ADMIN]"
SOCKET_MODE = "app_token: ${SLACK_APP_TOKEN}"
HTTP_MODE = "signing_secret: ${SLACK_SIGNING_SECRET}\n    http: {host: 127.0.0.1, port: 0}"
SIGNING_SECRET = "test-signing-secret"


@dataclass
class SlackWorld:
    """Everything a Slack test touches: the fakes, the runtime, the running bot."""

    slack: FakeSlack
    openai: FakeOpenAI
    runtime: Runtime
    bot: SlackBot
    config_path: Path
    turns: TurnWatch
    _ts: itertools.count[int]

    def next_ts(self) -> str:
        return f"1700000{next(self._ts):03d}.000100"

    @property
    def streaming(self) -> str:
        bot = self.runtime.config.current.bot("team")
        assert isinstance(bot, SlackBotConfig)
        return bot.streaming

    @property
    def message_limit(self) -> int:
        """The most characters one message of a reply holds in this world's streaming mode."""
        return STREAM_LIMIT if self.streaming == "native" else MESSAGE_LIMIT

    def event(self, kind: str, text: str, **fields: Any) -> dict[str, Any]:
        ts = fields.pop("ts", None) or self.next_ts()
        channel = fields.pop("channel", GENERAL)
        event = {
            "type": kind,
            "user": fields.pop("user", ALICE),
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel": channel,
            "channel_type": "im" if channel.startswith("D") else "channel",
            "team": self.slack.team_id,
        }
        event.update(fields)
        return event

    async def mention(self, text: str, **fields: Any) -> dict[str, Any]:
        event = self.event("app_mention", f"<@{self.slack.bot_user_id}> {text}", **fields)
        await self.slack.send_event(event)
        return event

    async def say(self, text: str, **fields: Any) -> dict[str, Any]:
        event = self.event("message", text, **fields)
        await self.slack.send_event(event)
        return event

    def sent(self, index: int = -1) -> list[dict[str, Any]]:
        """The messages list of the model request at `index`."""
        messages = self.openai.requests[index]["messages"]
        assert isinstance(messages, list)
        return messages

    def sent_users(self, index: int = -1) -> list[str]:
        return [m["content"] for m in self.sent(index) if m["role"] == "user"]

    def replies(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        return [
            m for m in self.slack.thread(channel, thread_ts) if m.user == self.slack.bot_user_id
        ]

    def key(self, channel: str, thread_ts: str) -> ConversationKey:
        return ConversationKey("slack", self.slack.team_id, channel, thread_ts)

    async def settled(self, channel: str, thread_ts: str, count: int = 1) -> list[FakeMessage]:
        """Waits until the thread shows `count` replies and every turn of it has ended.

        The engine stores the reply's final status before the last Slack edit, and the
        turn task ends after that edit was answered: a final row and no running turn task
        mean the thread shows what it will show.
        """
        key = self.key(channel, thread_ts)

        async def over() -> bool:
            if len(self.replies(channel, thread_ts)) < count:
                return False
            history = await self.runtime.store.recent_messages(key, 1)
            last = history.messages[-1] if history.messages else None
            # A reply in progress is partial with no error; a cut one says why it stopped.
            done = last is not None and (last.status != "partial" or bool(last.error))
            final = done and last is not None and last.role == "assistant"
            return final and not self.turns.running(key)

        await wait_for_state(over, message=f"{count} replies in {key}, every turn ended")
        return self.replies(channel, thread_ts)

    async def caught_up(self, channel: str = GENERAL) -> None:
        """The positive fact a negative check waits for: a blank mention sent now (answered
        with a greeting, no model call) has been answered, and no turn task runs any more.

        Events are routed in the order they arrive, so whatever the events before it were
        going to start has started by then, and has ended.
        """
        marker = await self.mention("", channel=channel)
        key = self.key(channel, marker["ts"])
        await self.turns.ended(1, key)
        await wait_until(lambda: not self.turns.running(), timeout=30, message="no turn runs")


def write_slack_config(
    directory: Path,
    slack: FakeSlack,
    openai: FakeOpenAI,
    *,
    mode: str = SOCKET_MODE,
    extra: str = "",
    streaming: str = "native",
) -> Path:
    path = directory / "bots.yaml"
    config = CONFIG.format(
        openai_url=openai.base_url,
        slack_url=slack.api_url,
        database=directory / "data" / "parley.db",
        mode=mode,
        extra=extra,
    )
    path.write_text(config.replace(ADMINS, f"{ADMINS}\n    streaming: {streaming}"))
    return path


@contextlib.asynccontextmanager
async def running_slack(
    config_path: Path, slack: FakeSlack, openai: FakeOpenAI, *, socket_mode: bool = True
) -> AsyncIterator[SlackWorld]:
    async with watching_turns() as turns, open_runtime(config_path) as runtime:
        bot = SlackBot(runtime.config.current.bot("team"), runtime.engine)
        task = asyncio.create_task(bot.run())
        try:
            if socket_mode:
                await slack.wait_connected()
            else:
                await wait_until(lambda: bot.http_port is not None)
            yield SlackWorld(slack, openai, runtime, bot, config_path, turns, itertools.count(100))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-slack")
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.bot_token)
    monkeypatch.setenv("SLACK_APP_TOKEN", fake_slack.app_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    fake_slack.add_user(ALICE, "Alice")
    fake_slack.add_user(BOB, "Bob")
    fake_slack.add_user(ADMIN, "Ada Admin")
    fake_slack.add_channel(GENERAL, "general")
    fake_slack.add_channel(PIRATES, "pirates")
    fake_slack.add_channel(DM, "", is_im=True)


@pytest.fixture
async def slack(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


SlackIn = Callable[[str], contextlib.AbstractAsyncContextManager[SlackWorld]]


@pytest.fixture
async def slack_assistant_pane(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    """An app installed before the agent view, still on `assistant_view` (and so in the
    fake): the pane's threads, and a DM's top level as one conversation."""
    fake_slack.workspace.app_view = "assistant"
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    config.write_text(
        config.read_text().replace(
            "    admins: [U0ADMIN]\n", "    admins: [U0ADMIN]\n    experience: assistant\n"
        )
    )
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


@pytest.fixture
def slack_in(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> SlackIn:
    """Runs the bot with `streaming: <mode>`, for a test parametrized over both modes."""

    def world(streaming: str) -> contextlib.AbstractAsyncContextManager[SlackWorld]:
        config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming=streaming)
        return running_slack(config, fake_slack, fake_openai)

    return world


@pytest.fixture
async def slack_edits(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    """`streaming: edits`: every reply is posted and edited (chat.postMessage, chat.update)."""
    config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming="edits")
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


@pytest.fixture(params=["edits", "native"])
async def slack_long_replies(
    request: pytest.FixtureRequest,
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
) -> AsyncIterator[SlackWorld]:
    """A persona allowed long replies (Parley cuts a reply far past `max_tokens`), in both
    streaming modes: their message limits differ (3,900 characters edited, 10,000 streamed)."""
    config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming=request.param)
    config.write_text(config.read_text().replace("max_tokens: 256", "max_tokens: 4000"))
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


def mention(slack: FakeSlack, text: str, ts: str, thread_ts: str | None = None) -> dict[str, Any]:
    """Alice mentioning the bot in #general (in a thread when `thread_ts` is given)."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{slack.bot_user_id}> {text}",
        "ts": ts,
        "event_ts": ts,
        "channel": GENERAL,
        "channel_type": "channel",
        "team": slack.team_id,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event
