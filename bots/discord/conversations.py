"""Which Discord messages and commands are Parley's to answer, turned into IncomingMessages."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

import discord

from bots.blank import is_blank
from bots.discord.access import is_admin, is_allowed
from bots.discord.sink import DiscordReplySink
from bots.throttle import ChannelThrottle
from core.config import DiscordBotConfig
from core.engine import Engine
from core.moderation import admin_notice
from core.types import Attachment, Author, ConversationKey, IncomingMessage, ModerationFlag

log = logging.getLogger(__name__)

DM_WORKSPACE = "dm"
REFUSAL = "Sorry, I'm not available to you here. Ask a Parley admin for access."
THREAD_NAME_LIMIT = 90
HINT = "Hi! Mention me with a question, or use `/ask`. In my threads no mention is needed."


class DiscordConversations:
    """One bot's routing; every path claims its message or interaction once in the store."""

    def __init__(
        self,
        *,
        bot: Callable[[], DiscordBotConfig],
        engine: Engine,
        client: discord.Client,
        throttle: ChannelThrottle,
    ) -> None:
        self._bot = bot
        self._engine = engine
        self._client = client
        self._throttle = throttle

    async def on_message(self, message: discord.Message) -> None:
        config, me = self._bot(), self._client.user
        if me is None or message.author.id == me.id:
            return
        if message.author.bot and not config.answer_bots:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        key = await self._conversation_of(message, mentioned=me in message.mentions)
        if key is None:
            return
        guild_id = message.guild.id if message.guild else None
        if not is_allowed(config, guild_id=guild_id, channel=message.channel, user=message.author):
            if config.on_denied == "refuse" and await self.claim(f"m:{message.id}"):
                await message.reply(REFUSAL, mention_author=False)
            return
        if not await self.claim(f"m:{message.id}"):
            return
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        if is_blank(text) and not message.attachments:
            # A bare "@Parley" is someone finding out what the bot does, not a question.
            if me in message.mentions or message.guild is None:
                await message.reply(HINT, mention_author=False)
            return
        if isinstance(message.channel, discord.Thread) or message.guild is None:
            await self._answer(config, key, message.author, text, message, message.channel)
        elif key.thread == str(message.id) and config.mention_reply == "thread":
            thread = await message.create_thread(name=thread_name(text or "Parley"))
            await self._answer(config, key, message.author, text, message, thread)
        else:  # a reply chain: answer as a reply, and remember what Parley posted
            await self._answer(config, key, message.author, text, message, message.channel, True)

    async def _conversation_of(
        self, message: discord.Message, *, mentioned: bool
    ) -> ConversationKey | None:
        channel = message.channel
        guild_id = message.guild.id if message.guild else None
        if guild_id is None and not self._bot().allow_dms:
            return None
        key = conversation_in(guild_id, channel)
        if key is not None:  # a DM, or a thread: answered if it is Parley's or it is asked
            if guild_id is None or mentioned or await self._engine.knows(key):
                return key
            return None
        guild = str(guild_id)
        reference = message.reference.message_id if message.reference else None
        if reference is not None:
            linked = await self._engine.linked("discord", str(reference))
            if linked is not None:
                return linked  # a reply to Parley continues that conversation
        if mentioned:
            return ConversationKey("discord", guild, str(channel.id), str(message.id))
        return None

    async def _answer(
        self,
        config: DiscordBotConfig,
        key: ConversationKey,
        author: discord.abc.User,
        text: str,
        message: discord.Message | None,
        target: discord.abc.Messageable,
        as_reply: bool = False,
    ) -> None:
        attachments = await self._attachments(message) if message is not None else ()
        incoming = IncomingMessage(
            bot=config.name,
            key=key,
            author=Author(str(author.id), author.display_name),
            text=text,
            message_id=str(message.id) if message is not None else "",
            attachments=attachments,
            workspace_name=message.guild.name if message is not None and message.guild else "DMs",
            channel_name=channel_name(target),
            admin=is_admin(config, author),
        )
        # Discord's edit budget is per channel id, and a thread has its own: keying by the
        # parent made 50 threads of one channel share five edits per five seconds.
        channel_id = getattr(target, "id", None) or 0
        replied_to = message if as_reply else None

        async def first(part: str) -> discord.Message:
            if replied_to is not None:
                return await replied_to.reply(part, mention_author=False)
            return await target.send(part)

        sink = DiscordReplySink(
            channel_id=channel_id,
            first=first,
            more=lambda part: target.send(part),
            typing=lambda: _typing(target),
            throttle=self._throttle,
            on_posted=(lambda posted: self._engine.link(key, [str(posted.id)]))
            if as_reply
            else None,
        )
        await self.handle(incoming, sink)

    async def _attachments(self, message: discord.Message) -> tuple[Attachment, ...]:
        cap = self._engine.limits.file_bytes
        found = []
        for item in message.attachments:
            data = None
            if item.size <= cap:
                try:
                    data = await item.read()
                except discord.HTTPException as error:
                    log.warning("could not download %s: %s", item.filename, error)
            media = item.content_type or "application/octet-stream"
            found.append(Attachment(item.filename, media, item.size, data))
        return tuple(found)

    async def claim(self, event: str) -> bool:
        """True only the first time a message or interaction id is seen, across restarts."""
        return await self._engine.claim(f"discord:{self._bot().name}", event)

    @property
    def config(self) -> DiscordBotConfig:
        return self._bot()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def throttle(self) -> ChannelThrottle:
        return self._throttle

    async def answer_in(self, thread: discord.Thread, message: IncomingMessage) -> None:
        sink = DiscordReplySink(
            channel_id=thread.id,  # the thread's own edit budget, as in _answer
            first=lambda part: thread.send(part),
            more=lambda part: thread.send(part),
            typing=lambda: _typing(thread),
            throttle=self._throttle,
        )
        await self.handle(message, sink)

    async def handle(self, message: IncomingMessage, sink: DiscordReplySink) -> None:
        """One turn; if moderation stopped it, the admins hear who and where (never what)."""
        outcome = await self._engine.handle(message, sink)
        channel_id = self._bot().moderation_channel
        if outcome.flagged is not None and channel_id:
            await self._report_flag(int(channel_id), message, outcome.flagged)

    async def _report_flag(self, to: int, message: IncomingMessage, flag: ModerationFlag) -> None:
        key, author = message.key, message.author
        where = "a direct message" if key.workspace == DM_WORKSPACE else f"<#{key.channel}>"
        notice = admin_notice(
            flag, who=f"<@{author.id}>", where=f"{where} (conversation {key})", bot=message.bot
        )
        try:
            channel = self._client.get_channel(to) or await self._client.fetch_channel(to)
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError(f"channel {to} cannot take messages")
            await channel.send(notice, allowed_mentions=discord.AllowedMentions.none())
        except (discord.HTTPException, TypeError) as error:
            log.warning("could not post to moderation channel %s: %s", to, error)


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


async def _typing(target: discord.abc.Messageable) -> None:
    await target.typing()
