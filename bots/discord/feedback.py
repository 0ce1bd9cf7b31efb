"""Clicks on the 👍/👎 buttons under a Discord reply: acknowledged, translated, stored."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bots.discord.buttons import CUSTOM_ID_PREFIX
from bots.discord.router import DM_WORKSPACE, DiscordEventRouter
from core.types import FeedbackClick, Rating

log = logging.getLogger(__name__)

_RATINGS: dict[str, Rating] = {"up": "up", "down": "down"}


def is_feedback(interaction: discord.Interaction[Any]) -> bool:
    data: dict[str, Any] = dict(interaction.data or {})
    return interaction.type == discord.InteractionType.component and str(
        data.get("custom_id", "")
    ).startswith(f"{CUSTOM_ID_PREFIX}:")


async def answer_click(interaction: discord.Interaction[Any], talk: DiscordEventRouter) -> None:
    """Acknowledges at once with a deferred update (nothing is posted, the message stays
    as it is), then stores the rating in a task the bot owns (drained like a turn)."""
    try:
        await interaction.response.defer()
    except discord.HTTPException as refused:
        # Answered already: a replayed interaction. The first delivery stored it.
        log.info("discord: a feedback click was not acknowledged: %s", refused)
        return
    click = click_of(interaction, talk.config.name)
    if click is not None:
        key = f"feedback:discord:{click.reply_id}"
        talk.tasks.start(talk.engine.feedback(click), key=key)


def click_of(interaction: discord.Interaction[Any], bot: str) -> FeedbackClick | None:
    data: dict[str, Any] = dict(interaction.data or {})
    _, rating_text, reply_text = [*str(data.get("custom_id", "")).split(":"), "", ""][:3]
    rating = _RATINGS.get(rating_text)
    if rating is None or not reply_text.isdigit() or interaction.channel_id is None:
        log.warning("discord: a feedback click with a custom_id Parley never set was ignored")
        return None
    workspace = str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE
    return FeedbackClick(
        bot=bot,
        platform="discord",
        workspace=workspace,
        channel=str(interaction.channel_id),
        reply_id=int(reply_text),
        user_id=str(interaction.user.id),
        rating=rating,
        clicked_at=interaction.created_at,
    )
