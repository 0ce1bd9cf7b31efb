"""What a platform adds under a bot's line in `parley check`; config only, never an SDK."""

from __future__ import annotations

from bots.discord.command_places import describe_command_places
from bots.discord.config import DiscordBotConfig
from bots.discord.shard_config import describe_shards
from core.config import BotConfig


def platform_notes(bot: BotConfig) -> list[str]:
    """Lines about where and how the bot will run that its platform alone knows."""
    if isinstance(bot, DiscordBotConfig):
        shards = describe_shards(bot.shards)
        return [describe_command_places(bot), *([shards] if shards else [])]
    return []
