"""Who may talk to a Discord bot where, and who counts as its admin."""

from __future__ import annotations

import discord

from bots.discord.config import DiscordBotConfig


def parent_channel_id(channel: object) -> int | None:
    """A thread counts as the channel it lives in."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    channel_id = getattr(channel, "id", None)
    return channel_id if isinstance(channel_id, int) else None


def is_allowed(
    bot: DiscordBotConfig,
    *,
    guild_id: int | None,
    channel: object,
    user: discord.abc.User,
) -> bool:
    if guild_id is None:
        return bot.allow_dms and (not bot.allowed_users or str(user.id) in bot.allowed_users)
    if bot.allowed_guilds and str(guild_id) not in bot.allowed_guilds:
        return False
    if bot.allowed_channels and str(parent_channel_id(channel)) not in bot.allowed_channels:
        return False
    if is_admin(bot, user):
        return True
    if bot.allowed_users and str(user.id) not in bot.allowed_users:
        return False
    return not bot.allowed_roles or _has_role(user, bot.allowed_roles)


def is_admin(bot: DiscordBotConfig, user: discord.abc.User) -> bool:
    if str(user.id) in bot.admins:
        return True
    if isinstance(user, discord.Member):
        return user.guild_permissions.administrator or _has_role(user, bot.admin_roles)
    return False


def _has_role(user: discord.abc.User, roles: tuple[str, ...]) -> bool:
    return isinstance(user, discord.Member) and any(str(r.id) in roles for r in user.roles)
