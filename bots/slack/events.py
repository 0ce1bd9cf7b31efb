"""Decides which Slack messages are Parley's to answer and turns them into IncomingMessages."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.blank import is_blank
from bots.slack.commands import command_reply
from bots.slack.directory import Directory
from bots.slack.files import download_files
from bots.slack.sink import SlackReplySink
from core.config import SlackBotConfig
from core.engine import Engine
from core.moderation import admin_notice
from core.types import (
    Author,
    ConversationKey,
    IncomingMessage,
    ModerationFlag,
    PriorMessage,
    Role,
)

log = logging.getLogger(__name__)

# Subtypes that are people talking; edits, deletions, joins and the like are not answered
# (an edit does not change the stored history either: the model saw what was asked).
ANSWERED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
DM_TOP_LEVEL = "dm"  # the conversation key's thread for a DM's top level
REFUSAL = "Sorry, I'm not available to you here. Ask a Parley admin for access."
GREETING = (
    "Hi! Ask me anything: mention me with a question. Say `reset` in a thread to make me forget it."
)


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: str  # the bot user, as in <@U…> mentions
    bot_id: str  # what Slack puts on the bot's own messages


class SlackConversations:
    """One bot's routing: every event funnels into `_answer`, which claims it exactly once."""

    def __init__(
        self,
        *,
        bot: Callable[[], SlackBotConfig],
        engine: Engine,
        client: AsyncWebClient,
        directory: Directory,
        files: aiohttp.ClientSession,
        token: str,
    ) -> None:
        self._bot = bot
        self._engine = engine
        self._client = client
        self._directory = directory
        self._files = files
        self._token = token

    async def on_mention(self, event: dict[str, Any], team_id: str, me: BotIdentity) -> None:
        await self._answer(event, team_id, me)

    async def on_message(self, event: dict[str, Any], team_id: str, me: BotIdentity) -> None:
        if not await self._is_for_us(event, team_id, me):
            return
        await self._answer(event, team_id, me)

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
        except SlackApiError as error:
            log.warning("could not offer suggested prompts: %s", error.response.get("error"))

    async def _is_for_us(self, event: dict[str, Any], team_id: str, me: BotIdentity) -> bool:
        if event.get("subtype") not in ANSWERED_SUBTYPES:
            return False
        if event.get("user") == me.user_id or event.get("bot_id") == me.bot_id:
            return False
        if event.get("bot_id") and not self._bot().answer_bots:
            return False
        if event.get("channel_type") == "im":
            return True
        # In channels a mention arrives as app_mention too; that event answers it.
        if f"<@{me.user_id}>" in str(event.get("text", "")) or not event.get("thread_ts"):
            return False
        if self._bot().thread_replies == "mentions":
            return False
        key = ConversationKey("slack", team_id, event["channel"], event["thread_ts"])
        return await self._engine.knows(key)

    async def _answer(self, event: dict[str, Any], team_id: str, me: BotIdentity) -> None:
        bot = self._bot()
        channel, ts = str(event["channel"]), str(event["ts"])
        key, thread_ts = _place(event, team_id)
        user = str(event.get("user") or event.get("bot_id") or "")
        # Keyed by channel and message ts: Slack's retries and a re-sent event with a new
        # event id are the same message, and the claim outlives a restart. Claimed before
        # the access check, so a redelivery is not refused a second time either.
        if not await self._engine.claim(f"slack:{bot.name}", f"{channel}:{ts}"):
            log.info("slack %s: %s already answered, skipping the redelivery", bot.name, ts)
            return
        if not _allowed(bot, channel, user, event.get("channel_type") == "im"):
            await self._deny(bot, channel, thread_ts)
            return
        text = _without_mention(str(event.get("text", "")), me.user_id)
        reply = await command_reply(self._engine, bot, key, user, text, event)
        if reply is None and is_blank(text) and not event.get("files"):
            reply = GREETING
        if reply is not None:
            await self._client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, markdown_text=reply
            )
            return
        await self._converse(bot, key, thread_ts, event, user, text, me)

    async def _converse(
        self,
        bot: SlackBotConfig,
        key: ConversationKey,
        thread_ts: str | None,
        event: dict[str, Any],
        user: str,
        text: str,
        me: BotIdentity,
    ) -> None:
        seen = await self._engine.knows(key)
        joined_late = thread_ts is not None and thread_ts != event["ts"]
        prior = await self._prior(key, event, me) if joined_late and not seen else ()
        status_shown = await self._assistant_status(key, event, text, first=not seen)
        limits = self._engine.limits
        # Independent lookups, cached after the first turn: ask for them all at once.
        author, workspace, channel, attachments = await asyncio.gather(
            self._directory.user_name(user),
            self._directory.team_name(key.workspace),
            self._directory.channel_name(key.channel),
            download_files(
                event.get("files") or [],
                session=self._files,
                token=self._token,
                cap=limits.file_bytes,
            ),
        )
        message = IncomingMessage(
            bot=bot.name,
            key=key,
            author=Author(user, author),
            text=text,
            message_id=str(event["ts"]),
            attachments=attachments,
            workspace_name=workspace,
            channel_name=channel,
            prior=prior,
            admin=user in bot.admins,
        )
        sink = SlackReplySink(
            self._client,
            channel=key.channel,
            thread_ts=thread_ts,
            bot_name=bot.name,
            token_var=bot.bot_token.variable,
            placeholder=not status_shown,
        )
        outcome = await self._engine.handle(message, sink)
        if outcome.flagged is not None and bot.moderation_channel:
            await self._report_flag(bot.moderation_channel, message, thread_ts, outcome.flagged)

    async def _report_flag(
        self, to: str, message: IncomingMessage, thread_ts: str | None, flag: ModerationFlag
    ) -> None:
        """Tells the admins who and where, never what: the flagged text stays out of it."""
        author, key = message.author, message.key
        where = f"<#{key.channel}>" + (f" (thread {thread_ts})" if thread_ts else "")
        if key.channel.startswith("D"):
            where = "a direct message"
        who = f"{author.display_name} ({author.id})"
        text = admin_notice(flag, who=who, where=where, bot=message.bot)
        try:
            await self._client.chat_postMessage(channel=to, text=text)
        except SlackApiError as error:
            log.warning(
                "could not post to moderation channel %s: %s", to, error.response.get("error")
            )

    async def _prior(
        self, key: ConversationKey, event: dict[str, Any], me: BotIdentity
    ) -> tuple[PriorMessage, ...]:
        """The thread so far, read once when Parley is brought into it late."""
        limit = self._engine.limits.seed_messages
        try:
            response = await self._client.conversations_replies(
                channel=key.channel, ts=key.thread, limit=limit + 1
            )
        except SlackApiError as error:
            log.warning("could not read thread %s: %s", key, error.response.get("error"))
            return ()
        earlier = [m for m in response.get("messages") or [] if m.get("ts") != event["ts"]]
        prior = []
        for m in earlier[-limit:] if limit else []:
            mine = m.get("user") == me.user_id or m.get("bot_id") == me.bot_id
            author_id = str(m.get("user") or m.get("bot_id") or "")
            name = me.user_id if mine else await self._directory.user_name(author_id)
            text = _without_mention(str(m.get("text", "")), me.user_id)
            role: Role = "assistant" if mine else "user"
            prior.append(PriorMessage(role, Author(author_id, name), text, str(m.get("ts"))))
        return tuple(prior)

    async def _assistant_status(
        self, key: ConversationKey, event: dict[str, Any], text: str, *, first: bool
    ) -> bool:
        """In a DM thread (Slack's assistant pane) show "is thinking…" instead of a placeholder."""
        if event.get("channel_type") != "im" or not event.get("thread_ts"):
            return False
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=key.channel, thread_ts=key.thread, status="is thinking…"
            )
            if first and text.strip():
                await self._client.assistant_threads_setTitle(
                    channel_id=key.channel, thread_ts=key.thread, title=text.strip()[:60]
                )
        except SlackApiError:
            return False  # an ordinary DM thread, not an assistant one
        return True

    async def _deny(self, bot: SlackBotConfig, channel: str, thread_ts: str | None) -> None:
        if bot.on_denied == "refuse":
            await self._client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                markdown_text=REFUSAL,
            )


def _place(event: dict[str, Any], team_id: str) -> tuple[ConversationKey, str | None]:
    """The conversation a message belongs to, and the thread the reply goes into.

    In a channel every conversation is a thread (a mention starts one). A DM's top level is
    one running conversation answered at the top level; threads inside a DM (Slack's
    assistant pane makes one per chat) are conversations of their own.
    """
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = event.get("thread_ts")
    if thread_ts is None and event.get("channel_type") == "im":
        return ConversationKey("slack", team_id, channel, DM_TOP_LEVEL), None
    thread = str(thread_ts or ts)
    return ConversationKey("slack", team_id, channel, thread), thread


def _allowed(bot: SlackBotConfig, channel: str, user: str, is_dm: bool) -> bool:
    if bot.allowed_users and user not in bot.allowed_users and user not in bot.admins:
        return False
    return is_dm or not bot.allowed_channels or channel in bot.allowed_channels


def _without_mention(text: str, bot_user_id: str) -> str:
    return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>[:,]?\s*", "", text).strip()
