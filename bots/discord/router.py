"""Turns Discord messages into IncomingMessages, each handled in a turn task this bot owns."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Callable

import aiohttp
import discord

from bots.discord.access import is_admin, is_allowed
from bots.discord.config import DiscordBotConfig
from bots.discord.reply import NO_PINGS, DiscordDeliveryError, DiscordReplyBinding, view_given
from bots.reply import StreamedReply
from bots.tasks import OnError, TurnTasks
from bots.throttle import ChannelThrottle
from core.errors import ParleyError
from core.types import (
    ApprovalRequest,
    ApprovalSettled,
    Attachment,
    Author,
    ConversationKey,
    Conversations,
    Earlier,
    IncomingMessage,
    Names,
    PriorMessage,
    ReplySink,
    Role,
    ToolStep,
    TurnSummary,
)

log = logging.getLogger(__name__)

DM_WORKSPACE = "dm"
THREAD_NAME_LIMIT = 90
FAILED = "⚠️ Something went wrong on my side. Please try again."


class DiscordEventRouter:
    """One bot's messages: what Discord says, translated; core decides the rest."""

    def __init__(
        self,
        *,
        bot: Callable[[], DiscordBotConfig],
        engine: Conversations,
        client: discord.Client,
        throttle: ChannelThrottle,
        tasks: TurnTasks,
    ) -> None:
        self._bot = bot
        self._engine = engine
        self._client = client
        self._throttle = throttle
        self.tasks = tasks

    def on_message(self, message: discord.Message) -> None:
        config, me = self._bot(), self._client.user
        if me is None or message.author.id == me.id:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if message.guild is None and not config.allow_dms:
            return
        mentioned = me in message.mentions
        reference = message.reference.message_id if message.reference else None
        key = conversation_in(message.guild.id if message.guild else None, message.channel)
        if key is None:
            if not mentioned and reference is None:
                return  # a plain channel message cannot belong to a conversation of Parley's
            key = ConversationKey(
                "discord",
                str(message.guild.id if message.guild else ""),
                str(message.channel.id),
                str(message.id),
            )
        incoming = self._incoming(config, key, message, me, mentioned, reference)
        sink = self._reply_to(config, incoming, message, reference)

        async def report_failure() -> None:
            await message.channel.send(FAILED, allowed_mentions=NO_PINGS)

        self.start(incoming, sink, report_failure)

    def start(self, message: IncomingMessage, sink: ReplySink, on_error: OnError) -> None:
        self.tasks.start(self._handle(message, sink), key=str(message.key), on_error=on_error)

    def _incoming(
        self,
        config: DiscordBotConfig,
        key: ConversationKey,
        message: discord.Message,
        me: discord.ClientUser,
        mentioned: bool,
        reference: int | None,
    ) -> IncomingMessage:
        guild_id = message.guild.id if message.guild else None
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        in_thread = isinstance(message.channel, discord.Thread)
        return IncomingMessage(
            bot=config.name,
            key=key,
            author=Author(str(message.author.id), message.author.display_name),
            text=text,
            message_id=str(message.id),
            delivery=f"m:{message.id}",
            addressed=mentioned or message.guild is None,
            allowed=is_allowed(
                config, guild_id=guild_id, channel=message.channel, user=message.author
            ),
            admin=is_admin(config, message.author),
            from_bot=message.author.bot,
            joined_late=in_thread and mentioned,
            reply_to=str(reference) if reference is not None and not in_thread else "",
            attachments=tuple(
                Attachment(
                    a.filename,
                    a.content_type or "application/octet-stream",
                    a.size,
                    None,
                    str(a.id),
                )
                for a in message.attachments
            ),
            workspace_name=message.guild.name if message.guild else "DMs",
            channel_name=channel_name(message.channel),
            lookups=DiscordLookups(message),
        )

    def _reply_to(
        self,
        config: DiscordBotConfig,
        incoming: IncomingMessage,
        message: discord.Message,
        reference: int | None,
    ) -> ReplySink:
        target: discord.abc.Messageable = message.channel
        if isinstance(target, discord.Thread) or message.guild is None:
            return self.sink_in(target)
        if reference is None and config.mention_reply == "thread":
            return self._sink_in_new_thread(message, incoming.text)

        async def first(part: str, nonce: int, view: discord.ui.View | None) -> discord.Message:
            return await message.reply(
                part, allowed_mentions=NO_PINGS, nonce=nonce, **view_given(view)
            )

        async def link(posted: discord.Message) -> None:
            # At once, not after the turn: people reply while it still streams.
            await self._engine.link(incoming, [str(posted.id)])

        return StreamedReply(
            DiscordReplyBinding(
                channel_id=message.channel.id,
                first=first,
                more=lambda part, nonce, view: _send(target, part, nonce, view),
                typing=lambda: _typing(target),
                throttle=self._throttle,
                on_posted=link,
                feedback=config.feedback,
            )
        )

    def _sink_in_new_thread(self, message: discord.Message, text: str) -> ReplySink:
        """The thread is made with the first words of the reply: a message core does not
        answer (a redelivery, a refusal) never leaves an empty thread behind."""
        made: list[discord.Thread] = []
        making = asyncio.Lock()  # typing and the first words may both ask for it

        async def thread() -> discord.Thread:
            async with making:
                if not made:
                    made.append(await _thread_of(message, thread_name(text or "Parley")))
            return made[0]

        async def send(part: str, nonce: int, view: discord.ui.View | None) -> discord.Message:
            return await _send(await thread(), part, nonce, view)

        async def typing() -> None:
            # Typing starts only for a real turn (not for a short answer): the thread is
            # made then, so "Parley is typing…" shows where the reply will be.
            await (await thread()).typing()

        streamed = StreamedReply(
            DiscordReplyBinding(
                channel_id=message.id,  # the thread's id is its first message's: its own budget
                first=send,
                more=send,
                typing=typing,
                throttle=self._throttle,
                feedback=self._bot().feedback,
            )
        )
        return ThreadedReply(streamed, message)

    def sink_in(self, thread: discord.abc.Messageable) -> ReplySink:
        # Discord's edit budget is per channel id, and a thread has its own.
        return StreamedReply(
            DiscordReplyBinding(
                channel_id=getattr(thread, "id", None) or 0,
                first=lambda part, nonce, view: _send(thread, part, nonce, view),
                more=lambda part, nonce, view: _send(thread, part, nonce, view),
                typing=lambda: _typing(thread),
                throttle=self._throttle,
                feedback=self._bot().feedback,
            )
        )

    @property
    def config(self) -> DiscordBotConfig:
        return self._bot()

    @property
    def engine(self) -> Conversations:
        return self._engine

    @property
    def throttle(self) -> ChannelThrottle:
        return self._throttle

    async def _handle(self, message: IncomingMessage, sink: ReplySink) -> None:
        """One turn; if moderation stopped it, the admins hear who and where (never what)."""
        outcome = await self._engine.handle(message, sink)
        channel_id = self._bot().moderation_channel
        if outcome.admin_notice and channel_id:
            await self._tell_admins(int(channel_id), outcome.admin_notice)

    async def _tell_admins(self, to: int, notice: str) -> None:
        try:
            channel = self._client.get_channel(to) or await self._client.fetch_channel(to)
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError(f"channel {to} cannot take messages")
            await channel.send(notice, allowed_mentions=NO_PINGS)
        except (discord.HTTPException, TypeError) as error:
            log.warning("could not post to moderation channel %s: %s", to, error)


class ThreadedReply:
    """A streamed reply goes into a new thread; a short answer (a greeting, a refusal) is
    a plain reply under the message, with no thread made for it."""

    def __init__(self, streamed: ReplySink, message: discord.Message) -> None:
        self._streamed = streamed
        self._message = message
        self._said = ""

    async def start(self) -> None:
        await self._streamed.start()

    async def append(self, text: str) -> None:
        await self._streamed.append(text)

    async def finish(self, summary: TurnSummary) -> None:
        await self._streamed.finish(summary)

    async def fail(self, error: ParleyError) -> None:
        await self._streamed.fail(error)

    async def say(self, text: str) -> None:
        try:
            await self._message.reply(text, allowed_mentions=NO_PINGS)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
            raise DiscordDeliveryError(str(error)) from error
        self._said = text

    async def step(self, step: ToolStep) -> None:
        await self._streamed.step(step)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        await self._streamed.ask_approval(request)

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        await self._streamed.approval_settled(settled)

    @property
    def shown(self) -> str:
        return self._streamed.shown or self._said


class DiscordLookups:
    """Discord sends names with the message; files and a thread's past are asked for."""

    def __init__(self, message: discord.Message) -> None:
        self._message = message

    async def names(self) -> Names:
        message = self._message
        return Names(
            message.author.display_name,
            message.guild.name if message.guild else "DMs",
            channel_name(message.channel),
        )

    async def download(self, attachment: Attachment, max_bytes: int) -> bytes | None:
        for item in self._message.attachments:
            if str(item.id) == attachment.ref and item.size <= max_bytes:
                try:
                    return await item.read()
                except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
                    raise ParleyError(f"Discord did not give the file: {error}") from error
        return None

    async def earlier(self, limit: int) -> Earlier:
        found: list[PriorMessage] = []
        me = self._message.guild.me if self._message.guild else None
        try:
            async for past in self._message.channel.history(limit=limit + 1, before=self._message):
                mine = me is not None and past.author.id == me.id
                role: Role = "assistant" if mine else "user"
                author = Author(str(past.author.id), past.author.display_name)
                found.append(PriorMessage(role, author, past.content, str(past.id)))
        except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
            raise ParleyError(f"Discord did not give the thread: {error}") from error
        return Earlier(tuple(found[:limit]), more=len(found) > limit)


def conversation_in(guild_id: int | None, channel: object) -> ConversationKey | None:
    """The conversation a DM or a thread is; None for a plain channel (which has many)."""
    if guild_id is None:
        return ConversationKey("discord", DM_WORKSPACE, str(getattr(channel, "id", "")), "dm")
    if isinstance(channel, discord.Thread):
        return ConversationKey("discord", str(guild_id), str(channel.parent_id), str(channel.id))
    return None


def thread_name(text: str) -> str:
    # Control characters (NUL, escape codes) have no place in a channel name.
    printable = "".join(c for c in text if c in "\n\r" or unicodedata.category(c) != "Cc")
    first_line = printable.strip().splitlines()[0] if printable.strip() else "Parley"
    return first_line[:THREAD_NAME_LIMIT].rstrip() or "Parley"


def channel_name(channel: object) -> str:
    if isinstance(channel, discord.Thread) and channel.parent is not None:
        return f"#{channel.parent.name}"
    name = getattr(channel, "name", None)
    return f"#{name}" if name else "a direct message"


async def _send(
    target: discord.abc.Messageable, part: str, nonce: int, view: discord.ui.View | None
) -> discord.Message:
    return await target.send(part, nonce=nonce, allowed_mentions=NO_PINGS, **view_given(view))


async def _typing(target: discord.abc.Messageable) -> None:
    await target.typing()


# Discord's "a thread has already been created for this message".
THREAD_EXISTS = 160004


async def _thread_of(message: discord.Message, name: str) -> discord.Thread:
    """The thread started from `message`: made now, or found when Discord made it but its
    answer was lost (discord.py then sent the request again, and Discord refused it)."""
    try:
        return await message.create_thread(name=name)
    except discord.HTTPException as error:
        if error.code != THREAD_EXISTS or message.guild is None:
            raise
    # A thread started from a message takes the message's id.
    found = await message.guild.fetch_channel(message.id)
    if not isinstance(found, discord.Thread):
        raise DiscordDeliveryError(f"channel {message.id} is not the thread Discord made")
    return found
