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

    Wraps the state's READY and GUILD_CREATE parsers (after any other wrapping)."""
    due: set[str] = set()
    parse_ready = state.parsers["READY"]
    parse_guild = state.parsers["GUILD_CREATE"]

    def all_arrived() -> None:
        if not due:
            # Read by discord.py's ready task before each further wait.
            state.guild_ready_timeout = NOTHING_DUE

    def ready(data: Any) -> None:
        due.clear()
        due.update(str(guild.get("id")) for guild in data.get("guilds") or ())
        state.guild_ready_timeout = patience
        parse_ready(data)
        all_arrived()

    def guild_create(data: Any) -> None:
        parse_guild(data)
        if isinstance(data, dict) and not data.get("unavailable"):
            due.discard(str(data.get("id")))
            all_arrived()

    state.parsers["READY"] = ready
    state.parsers["GUILD_CREATE"] = guild_create
