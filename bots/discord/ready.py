"""Ready as soon as every server READY announced has arrived, not a silence later."""

from __future__ import annotations

from typing import Any

from discord.state import ConnectionState

# Once nothing more is due, the wait for further GUILD_CREATEs only has to drain what is
# queued already; above zero, so a server queued but not yet taken is still announced.
NOTHING_DUE = 0.001


def ready_when_servers_arrived(state: ConnectionState[Any], patience: float) -> None:
    """discord.py fires READY once no GUILD_CREATE came for `guild_ready_timeout` seconds,
    so every start waited that long after the last server. Here the wait ends when each
    server READY listed has arrived; one that has not keeps the full `patience`.

    A sharded client gets one READY per shard, each listing that shard's servers; the
    timeout is the state's, shared by the shards' ready tasks, so it drops once every
    shard's servers have arrived.

    Wraps the state's READY and GUILD_CREATE parsers (after any other wrapping)."""
    due: dict[int, set[str]] = {}  # shard id (0 unsharded) to servers not arrived yet
    parse_ready = state.parsers["READY"]
    parse_guild = state.parsers["GUILD_CREATE"]

    def all_arrived() -> None:
        if not any(due.values()):
            # Read by discord.py's ready tasks before each further wait.
            state.guild_ready_timeout = NOTHING_DUE

    def ready(data: Any) -> None:
        shard = (data.get("shard") or [0])[0]
        due[shard] = {str(guild.get("id")) for guild in data.get("guilds") or ()}
        state.guild_ready_timeout = patience
        parse_ready(data)
        all_arrived()

    def guild_create(data: Any) -> None:
        parse_guild(data)
        if isinstance(data, dict) and not data.get("unavailable"):
            for servers in due.values():
                servers.discard(str(data.get("id")))
            all_arrived()

    state.parsers["READY"] = ready
    state.parsers["GUILD_CREATE"] = guild_create
