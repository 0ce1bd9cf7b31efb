"""A click on a tool approval's Approve or Deny on Discord: translated, decided, answered."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bots.discord.access import is_admin
from bots.discord.approval_view import CUSTOM_ID_PREFIX
from bots.discord.reply import NO_PINGS
from bots.discord.router import DM_WORKSPACE, DiscordEventRouter, conversation_in
from bots.reply.tool_text import refusal_text
from core.types import ApprovalClick

log = logging.getLogger(__name__)


def is_approval(interaction: discord.Interaction[Any]) -> bool:
    data: dict[str, Any] = dict(interaction.data or {})
    return interaction.type == discord.InteractionType.component and str(
        data.get("custom_id", "")
    ).startswith(CUSTOM_ID_PREFIX)


async def answer_approval(interaction: discord.Interaction[Any], talk: DiscordEventRouter) -> None:
    """Core decides at once (it keeps the waiting requests in memory), well within Discord's
    3 seconds; a decision is acknowledged quietly (the turn updates the request's message),
    a refusal answered with a note only the clicker sees."""
    click, asker = click_of(interaction, talk)
    if click is None:
        await _answer(interaction, refusal_text("unknown", ""))
        return
    result = await talk.engine.approve(click)
    await _answer(interaction, refusal_text(result, f"<@{asker}>" if asker else ""))


async def _answer(interaction: discord.Interaction[Any], note: str | None) -> None:
    try:
        if note is None:
            await interaction.response.defer()
        else:
            await interaction.response.send_message(note, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as refused:
        # Answered already: a replayed interaction, handled by its first delivery.
        log.info("discord: an approval click was not answered: %s", refused)


def click_of(
    interaction: discord.Interaction[Any], talk: DiscordEventRouter
) -> tuple[ApprovalClick | None, str]:
    """The click and the asker's user id its button names; None for a custom_id Parley
    never set."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", "")).removeprefix(CUSTOM_ID_PREFIX)
    verb, request_id, asker = [*custom_id.split(":"), "", "", ""][:3]
    if verb not in ("approve", "deny") or not request_id or interaction.channel_id is None:
        log.warning("discord: an approval click with a custom_id Parley never set was ignored")
        return None, ""
    # A thread's conversation is named by its parent channel, as the request's place is.
    key = conversation_in(interaction.guild_id, interaction.channel)
    channel = key.channel if key is not None else str(interaction.channel_id)
    config = talk.config
    workspace = str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE
    return ApprovalClick(
        bot=config.name,
        platform="discord",
        workspace=workspace,
        channel=channel,
        approval_id=request_id,
        user_id=str(interaction.user.id),
        user_name=interaction.user.display_name,
        approve=verb == "approve",
        admin=is_admin(config, interaction.user),
    ), asker
