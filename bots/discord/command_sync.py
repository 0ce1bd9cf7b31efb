"""Registers a bot's slash commands where its config says, and takes them away from where
they no longer belong (a guild copy beside global commands shows every command twice)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands

from bots.discord.command_places import GLOBAL, command_places, describe_command_places
from bots.discord.config import DiscordBotConfig
from bots.platforms import DISCORD_COMMAND_SYNC_SCOPE
from core.types import Conversations

log = logging.getLogger(__name__)

Tree = app_commands.CommandTree[Any]


async def sync_if_changed(tree: Tree, config: DiscordBotConfig, engine: Conversations) -> None:
    """Syncs only a command set Discord has not seen in a place: creates are limited to
    200 a day. Markers in the store say what is where, across restarts."""
    shape = json.dumps([command.to_dict(tree) for command in tree.get_commands()], sort_keys=True)
    digest = hashlib.sha256(shape.encode()).hexdigest()[:16]
    places = command_places(config)
    level = logging.INFO if places else logging.WARNING
    log.log(level, "discord bot %s: %s", config.name, describe_command_places(config))
    markers = Markers(engine, config.name)
    for place in places:
        if not await markers.synced(place, digest) and not await _sync(tree, config.name, place):
            continue
        # Also when nothing was synced: a set synced by a Parley before removals existed
        # gets its presence marked, so a later move can still take it away.
        await markers.placed(place, digest)
    await _clear_stale(tree.client, config.name, places, markers)


def command_sync_job(bot: str) -> str:
    return f"discord:{bot}:command-sync"


async def sync_on_one_replica(tree: Tree, config: DiscordBotConfig, engine: Conversations) -> None:
    """Every replica declares the same commands: while one syncs them, the others skip."""
    async with engine.coordination.once(command_sync_job(config.name)) as ours:
        if not ours:
            log.debug(
                "discord bot %s: another replica is syncing its slash commands; skipped",
                config.name,
            )
            return
        await sync_if_changed(tree, config, engine)


async def _sync(tree: Tree, name: str, place: str) -> bool:
    """False when Discord refuses the place: the bot still serves, and the log says why."""
    scope = None if place == GLOBAL else discord.Object(int(place))
    if scope is not None:
        tree.copy_global_to(guild=scope)
    try:
        await tree.sync(guild=scope)
    except discord.Forbidden as refused:
        log.warning(
            "discord bot %s: Discord refused its slash commands in guild %s (%s): the bot is "
            "not in that server, or was invited without the applications.commands scope; "
            "invite it with that scope, or take the guild out of workspaces/allowed_guilds",
            name,
            place,
            refused.text or refused.status,
        )
        return False
    log.info("discord bot %s: slash commands synced (%s)", name, place)
    return True


async def _clear_stale(
    client: discord.Client, name: str, places: list[str], markers: Markers
) -> None:
    """Empties the places this bot registered commands in before but no longer should."""
    candidates = [GLOBAL]
    if await markers.used_guilds():
        try:
            candidates += [str(guild.id) async for guild in client.fetch_guilds(limit=None)]
        except discord.HTTPException as error:
            log.warning("discord bot %s: could not list its servers: %s", name, error)
    application = client.application_id
    for place in candidates:
        if place in places or application is None or not await markers.live(place):
            continue
        try:
            if place == GLOBAL:
                await client.http.bulk_upsert_global_commands(application, [])
            else:
                await client.http.bulk_upsert_guild_commands(application, int(place), [])
        except discord.HTTPException as error:
            log.warning(
                "discord bot %s: could not remove its old slash commands (%s): %s; remove "
                "them in the server's Integrations settings",
                name,
                place,
                error,
            )
            continue
        await markers.cleared(place)
        log.info("discord bot %s: old slash commands removed (%s)", name, place)


class Markers:
    """Per place: the command set synced there, whether Parley's commands are there, and
    how many times they were removed (an epoch: a place emptied and wanted again syncs
    anew, though the ledger only ever adds rows). Markers are never pruned (KEPT_SCOPES)."""

    def __init__(self, engine: Conversations, bot: str) -> None:
        self._engine = engine
        self._prefix = f"{DISCORD_COMMAND_SYNC_SCOPE}{bot}:"
        self._epochs: dict[str, int] = {}

    async def synced(self, place: str, digest: str) -> bool:
        return await self._engine.seen(self._prefix + place, await self._set(place, digest))

    async def placed(self, place: str, digest: str) -> None:
        await self._note(self._prefix + place, await self._set(place, digest))
        await self._note(f"{self._prefix}{place}:placed", str(await self._epoch(place)))
        if place != GLOBAL:
            await self._note(f"{self._prefix}guilds", "used")

    async def live(self, place: str) -> bool:
        epoch = str(await self._epoch(place))
        return await self._engine.seen(f"{self._prefix}{place}:placed", epoch)

    async def cleared(self, place: str) -> None:
        epoch = await self._epoch(place) + 1
        await self._engine.record(f"{self._prefix}{place}:cleared", str(epoch))
        self._epochs[place] = epoch

    async def used_guilds(self) -> bool:
        return await self._engine.seen(f"{self._prefix}guilds", "used")

    async def _note(self, scope: str, value: str) -> None:
        # Every start marks every place: a look-up spares the store a write each time.
        if not await self._engine.seen(scope, value):
            await self._engine.record(scope, value)

    async def _set(self, place: str, digest: str) -> str:
        # Epoch 0 keeps the marker of Parley versions before removals existed.
        epoch = await self._epoch(place)
        return digest if epoch == 0 else f"{digest}#{epoch}"

    async def _epoch(self, place: str) -> int:
        if place not in self._epochs:
            epoch = 0
            while await self._engine.seen(f"{self._prefix}{place}:cleared", str(epoch + 1)):
                epoch += 1
            self._epochs[place] = epoch
        return self._epochs[place]
