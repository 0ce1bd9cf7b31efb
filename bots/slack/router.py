"""Turns Slack events into IncomingMessages, each handled in a turn task this bot owns."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.reply import StreamedReply
from bots.slack.agent_view import AgentView, viewed_channel
from bots.slack.approval_clicks import ApprovalAnswer, ClicksSeen, asker_of, click_of
from bots.slack.assistant import AssistantThreadReply
from bots.slack.config import SlackBotConfig
from bots.slack.directory import Directory
from bots.slack.feedback import click_of as feedback_click_of
from bots.slack.lookups import BotIdentity, SlackLookups, attachments_of, without_mention
from bots.slack.reply import SlackReplyBinding
from bots.slack.stream import Recipient, SlackStreamBinding, workspace_append_budget
from bots.tasks import TurnTasks
from bots.throttle import ChannelThrottle
from core.types import (
    Author,
    ConversationKey,
    Conversations,
    IncomingMessage,
    ReplySink,
)

log = logging.getLogger(__name__)

# Subtypes that are people talking; edits, deletions, joins and the like are not answered
# (an edit does not change the stored history either: the model saw what was asked).
ANSWERED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
DM_TOP_LEVEL = "dm"  # the conversation key's thread for a DM's top level
FAILED = "_:warning: Something went wrong on my side. Please try again._"
TITLED_THREADS = 1024  # assistant threads remembered as already titled


class SlackEventRouter:
    """One bot's events: what the platform says, translated; core decides the rest."""

    def __init__(
        self,
        *,
        bot: Callable[[], SlackBotConfig],
        engine: Conversations,
        client: AsyncWebClient,
        directory: Directory,
        files: aiohttp.ClientSession,
        token: str,
        tasks: TurnTasks,
        edits: ChannelThrottle,
        appends: ChannelThrottle | None = None,
    ) -> None:
        self._bot = bot
        self._engine = engine
        self._client = client
        self._directory = directory
        self._files = files
        self._token = token
        self._tasks = tasks
        self._edits = edits  # chat.update's budget, per workspace, shared by every reply
        self._appends = appends or workspace_append_budget()  # chat.appendStream's
        self._titled: OrderedDict[str, None] = OrderedDict()
        self._agent_view = AgentView(client, directory)
        self._no_streams: set[str] = set()  # channels where Slack refused native streams
        self._clicks = ClicksSeen()  # approval clicks, for redeliveries

    def on_mention(self, event: dict[str, Any], team_id: str, me: BotIdentity) -> None:
        if not _from_me(event, me):
            self._start(event, team_id, me, addressed=True)

    def on_message(self, event: dict[str, Any], team_id: str, me: BotIdentity) -> None:
        if event.get("subtype") not in ANSWERED_SUBTYPES or _from_me(event, me):
            return
        is_dm = event.get("channel_type") == "im"
        if not is_dm:
            # In channels a mention arrives as app_mention too; that event answers it.
            if f"<@{me.user_id}>" in str(event.get("text", "")) or not event.get("thread_ts"):
                return
            if self._bot().thread_replies == "mentions":
                return
        self._start(event, team_id, me, addressed=is_dm)

    async def on_assistant_thread_started(self, event: dict[str, Any]) -> None:
        prompts = self._bot().suggested_prompts
        thread = event.get("assistant_thread") or {}
        if not prompts or not thread.get("channel_id"):
            return
        try:
            await self._client.assistant_threads_setSuggestedPrompts(
                channel_id=thread["channel_id"],
                thread_ts=thread["thread_ts"],
                prompts=[{"title": p.title, "message": p.message} for p in prompts],
            )
        except (SlackApiError, aiohttp.ClientError) as error:
            log.warning("could not offer suggested prompts: %s", error)

    async def on_home_opened(self, event: dict[str, Any]) -> None:
        if self._bot().experience == "agent":
            await self._agent_view.on_messages_tab(self._bot(), event)

    async def on_context_changed(
        self, event: dict[str, Any], body: dict[str, Any], team_id: str
    ) -> None:
        user, channel = viewed_channel(event, body)
        await self._agent_view.on_context_changed(team_id, user, channel)

    def on_feedback(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A click on the feedback buttons under a reply, already acknowledged: stored in a
        task this bot owns (drained on shutdown like a turn)."""
        click = feedback_click_of(body, action, self._bot().name)
        if click is not None:
            key = f"feedback:slack:{click.reply_id}"
            self._tasks.start(self._engine.feedback(click), key=key)

    def on_approval(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A click on Approve or Deny, already acknowledged: decided by core in a task this
        bot owns; a refused click gets a short note only the clicker sees."""
        bot = self._bot()
        click = click_of(body, action, bot.name, bot.admins)
        if click is not None and self._clicks.first_time(click, action):
            answer = ApprovalAnswer(self._client, self._directory, asker_of(action), body)
            key = f"approval:slack:{click.approval_id}"
            self._tasks.start(answer.decide(self._engine, click), key=key)

    def _start(
        self, event: dict[str, Any], team_id: str, me: BotIdentity, *, addressed: bool
    ) -> None:
        bot = self._bot()
        message = self._incoming(bot, event, team_id, me, addressed=addressed)
        _, thread_ts = _place(event, team_id, bot.experience)
        reply = self._reply(bot, message, event, thread_ts)

        async def report_failure() -> None:
            await self._client.chat_postMessage(
                channel=message.key.channel, thread_ts=thread_ts, markdown_text=FAILED
            )

        self._tasks.start(
            self._handle(message, reply), key=str(message.key), on_error=report_failure
        )

    async def _handle(self, message: IncomingMessage, reply: ReplySink) -> None:
        outcome = await self._engine.handle(message, reply)
        to = self._bot().moderation_channel
        if outcome.admin_notice and to:
            try:
                await self._client.chat_postMessage(channel=to, text=outcome.admin_notice)
            except (SlackApiError, aiohttp.ClientError) as error:
                log.warning("could not post to moderation channel %s: %s", to, error)

    def _incoming(
        self,
        bot: SlackBotConfig,
        event: dict[str, Any],
        team_id: str,
        me: BotIdentity,
        *,
        addressed: bool,
    ) -> IncomingMessage:
        key, thread_ts = _place(event, team_id, bot.experience)
        channel, ts = str(event["channel"]), str(event["ts"])
        user = str(event.get("user") or event.get("bot_id") or "")
        is_dm = event.get("channel_type") == "im"
        lookups = SlackLookups(
            client=self._client,
            directory=self._directory,
            files=self._files,
            token=self._token,
            event=event,
            team_id=team_id,
            me=me,
        )
        return IncomingMessage(
            bot=bot.name,
            key=key,
            # Names Slack told us before are used at once (the stored row is then final);
            # new ones are looked up by core after the message is stored.
            author=Author(user, self._directory.known("user", user) or user),
            text=without_mention(str(event.get("text", "")), me.user_id),
            message_id=ts,
            # Channel and ts: Slack's retries and a re-sent event with a new event id are
            # the same message.
            delivery=f"{channel}:{ts}",
            addressed=addressed,
            allowed=_allowed(bot, channel, user, is_dm),
            admin=user in bot.admins,
            from_bot=bool(event.get("bot_id")),
            joined_late=thread_ts is not None and thread_ts != ts,
            attachments=attachments_of(event),
            workspace_name=self._directory.known("team", team_id) or "",
            channel_name=self._directory.known("channel", channel) or "",
            viewing_channel=self._agent_view.viewing(team_id, user) if is_dm else "",
            lookups=lookups,
        )

    def _reply(
        self,
        bot: SlackBotConfig,
        message: IncomingMessage,
        event: dict[str, Any],
        thread_ts: str | None,
    ) -> ReplySink:
        # A thread in the app's DM: Slack shows the app's "is thinking…" status there, so no
        # placeholder message. Agent view: every DM message is one; else the pane's threads.
        is_dm = event.get("channel_type") == "im"
        agent = bot.experience == "agent"
        in_assistant_pane = is_dm and (agent or bool(event.get("thread_ts")))
        binding = SlackReplyBinding(
            self._client,
            team_id=message.key.workspace,
            channel=message.key.channel,
            thread_ts=thread_ts,
            bot_name=bot.name,
            token_var=bot.bot_token.variable,
            budget=self._edits,
            placeholder=not in_assistant_pane,
            feedback=bot.feedback,
        )
        sink: ReplySink
        # Slack streams thread replies to a person: a DM's top level and a bot's message
        # (no user id to name as the recipient) are posted and edited.
        if bot.streaming == "native" and thread_ts is not None and event.get("user"):
            sink = StreamedReply(self._native(binding, event, thread_ts, in_assistant_pane))
        else:
            sink = StreamedReply(binding)
        if not in_assistant_pane:
            return sink
        # The agent view titles its threads by their first message itself.
        title = "" if agent else self._title_once(message)
        return AssistantThreadReply(sink, self._client, message.key, title=title)

    def _native(
        self, edits: SlackReplyBinding, event: dict[str, Any], thread_ts: str, pane: bool
    ) -> SlackStreamBinding:
        """A thread reply streamed natively, for the person who asked (Slack needs both ids
        outside a DM); an assistant pane shows its status already."""
        user = str(event.get("user") or "")
        team = str(event.get("user_team") or event.get("team") or "")
        return SlackStreamBinding(
            edits,
            self._client,
            channel=str(event["channel"]),
            thread_ts=thread_ts,
            recipient=Recipient(user_id=user, team_id=team),
            refused=self._no_streams,
            budget=self._appends,
            status=not pane,
            answering=str(event["ts"]),
        )

    def _title_once(self, message: IncomingMessage) -> str:
        """An assistant thread is titled by its first question, once."""
        thread = str(message.key)
        if thread in self._titled or not message.text.strip():
            return ""
        self._titled[thread] = None
        if len(self._titled) > TITLED_THREADS:
            self._titled.popitem(last=False)
        return message.text.strip()[:60]


def _from_me(event: dict[str, Any], me: BotIdentity) -> bool:
    return event.get("user") == me.user_id or (bool(me.bot_id) and event.get("bot_id") == me.bot_id)


def _place(
    event: dict[str, Any], team_id: str, experience: str
) -> tuple[ConversationKey, str | None]:
    """The conversation a message belongs to, and the thread the reply goes into.

    In a channel every conversation is a thread (a mention starts one). In the agent view
    each message in the app's DM starts a thread too, as Slack shows it. For an app on the
    assistant pane, a DM's top level is one running conversation answered at the top level,
    and threads inside it (the pane makes one per chat) are conversations of their own.
    """
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = event.get("thread_ts")
    if thread_ts is None and event.get("channel_type") == "im" and experience != "agent":
        return ConversationKey("slack", team_id, channel, DM_TOP_LEVEL), None
    thread = str(thread_ts or ts)
    return ConversationKey("slack", team_id, channel, thread), thread


def _allowed(bot: SlackBotConfig, channel: str, user: str, is_dm: bool) -> bool:
    if bot.allowed_users and user not in bot.allowed_users and user not in bot.admins:
        return False
    return is_dm or not bot.allowed_channels or channel in bot.allowed_channels
