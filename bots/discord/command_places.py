"""Where a Discord bot's slash commands are registered; plain config, no discord.py, so
`parley check` can say it without loading the SDK."""

from __future__ import annotations

from bots.discord.config import DiscordBotConfig

GLOBAL = "global"


def listed_guilds(config: DiscordBotConfig) -> list[str]:
    return sorted({*config.workspaces, *config.allowed_guilds})


def command_places(config: DiscordBotConfig) -> list[str]:
    """["global"], or the guild ids to register in; empty when `guilds` lists none."""
    guilds = listed_guilds(config)
    if config.command_sync == "global" or (config.command_sync == "auto" and not guilds):
        return [GLOBAL]
    return guilds


def describe_command_places(config: DiscordBotConfig) -> str:
    """One line for `parley check` and `parley run`'s log."""
    places = command_places(config)
    if places == [GLOBAL]:
        return (
            "slash commands registered globally: every server the bot is in and its DMs "
            "(Discord may take up to an hour to show a change)"
        )
    if not places:
        return (
            "slash commands registered NOWHERE: command_sync is 'guilds' but no guild is "
            "listed in workspaces or allowed_guilds"
        )
    shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    return f"slash commands registered in {len(places)} guild(s), at once: {shown}"
