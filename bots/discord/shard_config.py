"""Discord's `shards:` key: how many shards the bot has and which of them this replica runs."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.config.fields import Frozen


def _shard_list(value: object) -> object:
    # `ids: ${DISCORD_SHARDS}` arrives as text ("0,2"); a lone number as an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isdigit() for part in parts):
            raise PydanticCustomError(
                "shard_ids", "must list shard numbers, like [0, 2] or '0,2', got '{value}'",
                {"value": value},
            )  # fmt: skip
        return [int(part) for part in parts]
    return value


ShardIds = Annotated[tuple[Annotated[int, Field(ge=0)], ...], BeforeValidator(_shard_list)]


class DiscordShards(Frozen):
    """`count` shards in all (Discord puts a server on shard (server id >> 22) % count and
    DMs on shard 0). This replica runs `ids`, or the first `per_replica` shards no other
    live replica holds; neither: every shard."""

    count: int = Field(default=1, ge=1)
    ids: ShardIds | None = None
    per_replica: int | None = Field(default=None, ge=1)

    @field_validator("ids")
    @classmethod
    def _within_count(cls, ids: tuple[int, ...] | None, info: ValidationInfo) -> object:
        count = info.data.get("count")
        if ids is None or count is None:
            return ids
        if not ids:
            raise PydanticCustomError("shard_ids", "must name at least one shard")
        if len(set(ids)) != len(ids):
            raise PydanticCustomError("shard_ids", "names a shard more than once")
        beyond = [shard for shard in ids if shard >= count]
        if beyond:
            raise PydanticCustomError(
                "shard_ids",
                "shard {shard} does not exist: shards are numbered 0 to {last} (count {count})",
                {"shard": beyond[0], "last": count - 1, "count": count},
            )
        return ids

    @model_validator(mode="after")
    def _one_way_to_choose(self) -> DiscordShards:
        if self.ids is not None and self.per_replica is not None:
            raise PydanticCustomError(
                "shard_choice", "give ids (these shards) or per_replica (any free ones), not both"
            )
        if self.per_replica is not None and self.per_replica > self.count:
            raise PydanticCustomError(
                "shard_choice",
                "per_replica ({per_replica}) is more than count ({count})",
                {"per_replica": self.per_replica, "count": self.count},
            )
        return self

    @property
    def sharded(self) -> bool:
        """More than one shard: IDENTIFY carries `shard`; one shard is a plain session."""
        return self.count > 1


def describe_shards(shards: DiscordShards) -> str | None:
    """What `parley check` says of the shards; None for one unsharded session."""
    if not shards.sharded:
        return None
    if shards.per_replica is not None:
        return (
            f"shards: {shards.count}, each replica runs the first {shards.per_replica} "
            "no other live replica runs"
        )
    if shards.ids is None:
        return f"shards: {shards.count}, all run by this replica"
    listed = ", ".join(str(shard) for shard in shards.ids)
    return f"shards: {shards.count}, this replica runs {listed}"
