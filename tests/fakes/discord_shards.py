"""Where Discord sends an event when a bot is sharded: a server's events to shard
(server id >> 22) % count, DMs (no server) to shard 0."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord_payloads import Payload

# Events whose own `id` is the server's; every other server event carries `guild_id`.
_GUILD_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})
# A timestamp part far enough from 0 that the ids are 19 digits, like Discord's.
_SNOWFLAKE_TIME = 1 << 40


def shard_of_guild(guild_id: str | int, count: int) -> int:
    return (int(guild_id) >> 22) % count


def shard_of_event(event: str, data: Any, count: int) -> int:
    """Tests send malformed payloads too: one with no usable server id goes to shard 0."""
    if not isinstance(data, dict) or count == 1:
        return 0
    guild_id = data.get("id") if event in _GUILD_EVENTS else data.get("guild_id")
    return shard_of_guild(str(guild_id), count) if str(guild_id).isdigit() else 0


def guild_id_on_shard(shard: int, count: int, nth: int = 0) -> str:
    """A snowflake for the `nth` server of shard `shard` out of `count`."""
    time_part = _SNOWFLAKE_TIME + (shard - _SNOWFLAKE_TIME) % count + nth * count
    return str((time_part << 22) + 100 + nth)


def shard_field(value: object) -> tuple[int, int] | None:
    """IDENTIFY's `shard: [id, count]` when it is valid (0 <= id < count), else None."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    shard, count = value
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        return None
    return (shard, count) if 0 <= shard < count else None


def for_shard(
    ready: Payload, guild_creates: list[Payload], shard: tuple[int, int]
) -> tuple[Payload, list[Payload]]:
    """READY and GUILD_CREATEs as one shard's session sees them: its own servers only."""
    shard_id, count = shard

    def ours(guild: Payload) -> bool:
        return shard_of_guild(str(guild["id"]), count) == shard_id

    guilds = [guild for guild in ready.get("guilds", []) if ours(guild)]
    return {**ready, "shard": [shard_id, count], "guilds": guilds}, [
        guild for guild in guild_creates if ours(guild)
    ]
