"""What each slash command does: defer first (Discord's 3-second deadline), then core."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bots.discord.access import is_admin, is_allowed
from bots.discord.reply import NO_PINGS, DiscordReplyBinding, view_given
from bots.discord.router import DiscordEventRouter, channel_name, conversation_in, thread_name
from bots.discord.user_install import FittedReply, through_user_install_only
from bots.reply import StreamedReply
from core.types import Author, Command, ConversationKey, IncomingMessage, ReplySink

ALREADY_ACKNOWLEDGED = 40060  # Discord's JSON error code for a second interaction callback
FAILED = "⚠️ Something went wrong on my side. Please try again."

log = logging.getLogger(__name__)


async def ask(talk: DiscordEventRouter, interaction: discord.Interaction, prompt: str) -> None:
    if not await _defer(interaction, ephemeral=False):
        return
    message = _incoming(talk, interaction, _here(interaction), prompt)
    sink = _sink(talk, interaction)
    if through_user_install_only(interaction):
        sink = FittedReply(sink)
    _start(talk, interaction, message, sink)


async def chat(talk: DiscordEventRouter, interaction: discord.Interaction, prompt: str) -> None:
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel):
        await interaction.response.send_message(
            "Use /chat in a server text channel; here, just use /ask.",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
        return
    if not await _defer(interaction, ephemeral=False):
        return
    allowed = _allowed(talk, interaction)
    if not allowed:
        # Core refuses it (once, in the words every platform uses) into the deferred reply.
        message = _incoming(talk, interaction, _here(interaction), prompt)
        _start(talk, interaction, message, _sink(talk, interaction))
        return

    async def open_thread() -> None:
        thread = await channel.create_thread(
            name=thread_name(prompt), type=discord.ChannelType.public_thread
        )
        await interaction.edit_original_response(
            content=f"Let's talk in {thread.mention}.", allowed_mentions=NO_PINGS
        )
        # The user's own words, posted by the bot: "@everyone" in them must not ping either.
        opening = f"**{interaction.user.display_name}:** {prompt}"[:2000]
        await thread.send(opening, allowed_mentions=NO_PINGS)
        key = ConversationKey("discord", str(interaction.guild_id), str(channel.id), str(thread.id))
        await talk.engine.handle(_incoming(talk, interaction, key, prompt), talk.sink_in(thread))

    talk.tasks.start(
        open_thread(),
        key=f"discord:{interaction.guild_id}/{channel.id}/new",
        on_error=lambda: _failed(interaction),
    )


async def reset(talk: DiscordEventRouter, interaction: discord.Interaction) -> None:
    if not await _defer(interaction, ephemeral=True):
        return
    key = _here(interaction)
    if key.thread.startswith("ask-"):
        await interaction.edit_original_response(
            content="Use /reset inside a thread with me (or in our DM).",
            allowed_mentions=NO_PINGS,
        )
        return
    message = _incoming(talk, interaction, key, "", Command("reset"))
    _start(talk, interaction, message, _sink(talk, interaction))


async def persona(
    talk: DiscordEventRouter, interaction: discord.Interaction, name: str | None, scope: str
) -> None:
    if not await _defer(interaction, ephemeral=True):
        return
    key = _here(interaction)
    whole_channel = scope == "channel" or key.thread.startswith("ask-")
    command = Command("persona", name, whole_channel=whole_channel)
    message = _incoming(talk, interaction, key, "", command)
    _start(talk, interaction, message, _sink(talk, interaction))


def _start(
    talk: DiscordEventRouter,
    interaction: discord.Interaction,
    message: IncomingMessage,
    sink: ReplySink,
) -> None:
    talk.start(message, sink, lambda: _failed(interaction))


async def command_failed(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """The command tree's error boundary: one log line, one short answer, never silence."""
    cause = error.__cause__ or error
    data: dict[str, Any] = dict(interaction.data or {})
    name = data.get("name", "?")
    log.error(
        "discord: /%s failed in channel %s: %s: %s",
        name,
        interaction.channel_id,
        type(cause).__name__,
        cause,
    )
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=FAILED, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(
                FAILED, ephemeral=True, allowed_mentions=NO_PINGS
            )
    except discord.HTTPException as unanswered:
        log.debug("discord: the failure notice did not get through: %s", unanswered)


async def _failed(interaction: discord.Interaction) -> None:
    # The deferred "thinking…" must not hang until the token expires.
    await interaction.edit_original_response(content=FAILED, allowed_mentions=NO_PINGS)


def _here(interaction: discord.Interaction) -> ConversationKey:
    """The thread a command was used in, the DM, or (in a channel) a one-off question."""
    key = conversation_in(interaction.guild_id, interaction.channel)
    if key is not None:
        return key
    guild = str(interaction.guild_id)
    return ConversationKey("discord", guild, str(interaction.channel_id), f"ask-{interaction.id}")


def _incoming(
    talk: DiscordEventRouter,
    interaction: discord.Interaction,
    key: ConversationKey,
    text: str,
    command: Command | None = None,
) -> IncomingMessage:
    guild = interaction.guild
    return IncomingMessage(
        bot=talk.config.name,
        key=key,
        author=Author(str(interaction.user.id), interaction.user.display_name),
        text=text,
        message_id=f"i:{interaction.id}",
        delivery=f"i:{interaction.id}",
        addressed=True,
        allowed=_allowed(talk, interaction),
        admin=is_admin(talk.config, interaction.user),
        from_bot=interaction.user.bot,
        command=command,
        workspace_name=guild.name if guild is not None else "DMs",
        channel_name=channel_name(interaction.channel),
    )


def _sink(talk: DiscordEventRouter, interaction: discord.Interaction) -> ReplySink:
    async def first(part: str, nonce: int, view: discord.ui.View | None) -> discord.Message:
        # An edit: trying it again shows the same words, never a second message.
        return await interaction.edit_original_response(
            content=part, allowed_mentions=NO_PINGS, **view_given(view)
        )

    async def more(part: str, nonce: int, view: discord.ui.View | None) -> discord.Message:
        # Webhook sends take no nonce: a follow-up whose answer was lost may show twice.
        return await interaction.followup.send(
            part, wait=True, allowed_mentions=NO_PINGS, **view_given(view)
        )

    return StreamedReply(
        DiscordReplyBinding(
            channel_id=interaction.channel_id or 0,
            first=first,
            more=more,
            typing=None,  # the deferred response already shows "Parley is thinking…"
            throttle=talk.throttle,
            feedback=talk.config.feedback,
        )
    )


async def _defer(interaction: discord.Interaction, *, ephemeral: bool) -> bool:
    """Acknowledges at once, before any store or lock work; False for an interaction
    delivered twice (a gateway replay), which Discord refuses to acknowledge again."""
    try:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    except discord.HTTPException as refused:
        if refused.code != ALREADY_ACKNOWLEDGED:
            raise
        return False
    return True


def _allowed(talk: DiscordEventRouter, interaction: discord.Interaction) -> bool:
    return is_allowed(
        talk.config,
        guild_id=interaction.guild_id,
        channel=interaction.channel,
        user=interaction.user,
    )
