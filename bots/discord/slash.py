"""What each slash command does: defer first (Discord's 3-second deadline), then think."""

from __future__ import annotations

import discord

from bots.discord.access import is_admin, is_allowed
from bots.discord.conversations import (
    REFUSAL,
    DiscordConversations,
    channel_name,
    conversation_in,
    thread_name,
)
from bots.discord.sink import DiscordReplySink
from core.errors import ParleyError
from core.types import Author, ConversationKey, IncomingMessage

ALREADY_ACKNOWLEDGED = 40060  # Discord's JSON error code for a second interaction callback


async def ask(talk: DiscordConversations, interaction: discord.Interaction, prompt: str) -> None:
    if not await _allowed(talk, interaction):
        return
    if not await _defer(interaction) or not await talk.claim(f"i:{interaction.id}"):
        return
    key = _here(interaction)
    await talk.handle(_incoming(talk, interaction, key, prompt), _sink(talk, interaction))


async def chat(talk: DiscordConversations, interaction: discord.Interaction, prompt: str) -> None:
    channel = interaction.channel
    if not await _allowed(talk, interaction):
        return
    if not isinstance(channel, discord.TextChannel):
        await interaction.response.send_message(
            "Use /chat in a server text channel; here, just use /ask.", ephemeral=True
        )
        return
    if not await _defer(interaction) or not await talk.claim(f"i:{interaction.id}"):
        return
    thread = await channel.create_thread(
        name=thread_name(prompt), type=discord.ChannelType.public_thread
    )
    await interaction.edit_original_response(content=f"Let's talk in {thread.mention}.")
    await thread.send(f"**{interaction.user.display_name}:** {prompt}"[:2000])
    key = ConversationKey("discord", str(interaction.guild_id), str(channel.id), str(thread.id))
    await talk.answer_in(thread, _incoming(talk, interaction, key, prompt))


async def reset(talk: DiscordConversations, interaction: discord.Interaction) -> None:
    key = _here(interaction)
    if key.thread.startswith("ask-"):
        await _say(interaction, "Use /reset inside a thread with me (or in our DM).")
        return
    admin = is_admin(talk.config, interaction.user)
    if not await talk.engine.may_reset(key, str(interaction.user.id), admin=admin):
        await _say(interaction, "Only the people in this thread, or an admin, can reset it.")
        return
    forgotten = await talk.engine.reset(key)
    await _say(interaction, f"Done: I've forgotten this thread ({forgotten} messages).")


async def persona(
    talk: DiscordConversations, interaction: discord.Interaction, name: str | None, scope: str
) -> None:
    key = _here(interaction)
    if name is not None:
        if not is_admin(talk.config, interaction.user):
            await _say(interaction, "Only a Parley admin can switch personas.")
            return
        whole_channel = scope == "channel" or key.thread.startswith("ask-")
        try:
            await talk.engine.choose_persona(
                talk.config.name,
                key,
                name,
                whole_channel=whole_channel,
                chosen_by=str(interaction.user.id),
            )
        except ParleyError as error:
            await _say(interaction, error.user_message)
            return
    current = talk.engine.persona_for(talk.config.name, key).persona
    await _say(interaction, f"Here I'm **{current.name}**, answering with `{current.model}`.")


def _here(interaction: discord.Interaction) -> ConversationKey:
    """The thread a command was used in, the DM, or (in a channel) a one-off question."""
    key = conversation_in(interaction.guild_id, interaction.channel)
    if key is not None:
        return key
    guild = str(interaction.guild_id)
    return ConversationKey("discord", guild, str(interaction.channel_id), f"ask-{interaction.id}")


def _incoming(
    talk: DiscordConversations, interaction: discord.Interaction, key: ConversationKey, text: str
) -> IncomingMessage:
    guild = interaction.guild
    return IncomingMessage(
        bot=talk.config.name,
        key=key,
        author=Author(str(interaction.user.id), interaction.user.display_name),
        text=text,
        message_id=f"i:{interaction.id}",
        workspace_name=guild.name if guild is not None else "DMs",
        channel_name=channel_name(interaction.channel),
        admin=is_admin(talk.config, interaction.user),
    )


def _sink(talk: DiscordConversations, interaction: discord.Interaction) -> DiscordReplySink:
    async def first(part: str) -> discord.Message:
        return await interaction.edit_original_response(content=part)

    async def more(part: str) -> discord.Message:
        return await interaction.followup.send(part, wait=True)

    return DiscordReplySink(
        channel_id=interaction.channel_id or 0,
        first=first,
        more=more,
        typing=None,  # the deferred response already shows "Parley is thinking…"
        throttle=talk.throttle,
    )


async def _defer(interaction: discord.Interaction) -> bool:
    """Acknowledges at once; False for an interaction delivered twice (a gateway replay),
    which Discord refuses to acknowledge again: the first delivery answers it."""
    try:
        await interaction.response.defer(thinking=True)
    except discord.HTTPException as refused:
        if refused.code != ALREADY_ACKNOWLEDGED:
            raise
        return False
    return True


async def _allowed(talk: DiscordConversations, interaction: discord.Interaction) -> bool:
    config = talk.config
    if is_allowed(
        config, guild_id=interaction.guild_id, channel=interaction.channel, user=interaction.user
    ):
        return True
    await interaction.response.send_message(REFUSAL, ephemeral=True)
    return False


async def _say(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)
