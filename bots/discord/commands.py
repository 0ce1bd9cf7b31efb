"""Parley's slash commands, declared from type annotations; slash.py does the work."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from bots.discord import slash
from bots.discord.router import DiscordEventRouter


def install(tree: app_commands.CommandTree[discord.Client], talk: DiscordEventRouter) -> None:
    """Declares the commands on the tree; syncing them is the bot's job."""

    # /ask works wherever a person has Parley: installed to a server, or to their own account
    # (then in any server, their DMs and group DMs, through the command's own response).
    @tree.command(name="ask", description="Ask Parley; the answer appears right here.")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.describe(prompt="What you want to ask")
    async def ask(interaction: discord.Interaction, prompt: str) -> None:
        await slash.ask(talk, interaction, prompt)

    # The others act on threads and channels the bot is in: a server install's.
    @tree.command(name="chat", description="Start a thread with Parley about something.")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.describe(prompt="What the conversation is about")
    async def chat(interaction: discord.Interaction, prompt: str) -> None:
        await slash.chat(talk, interaction, prompt)

    @tree.command(name="reset", description="Make Parley forget this thread.")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def reset(interaction: discord.Interaction) -> None:
        await slash.reset(talk, interaction)

    @tree.command(name="persona", description="Show Parley's persona here, or switch it (admins).")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.describe(name="Switch to this persona", scope="Where the switch applies")
    async def persona(
        interaction: discord.Interaction,
        name: str | None = None,
        scope: Literal["thread", "channel"] = "thread",
    ) -> None:
        await slash.persona(talk, interaction, name, scope)

    @persona.autocomplete("name")
    async def persona_names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = [n for n in talk.engine.persona_names() if current.lower() in n.lower()]
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]
