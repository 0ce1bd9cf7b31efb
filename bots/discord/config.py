"""Discord's bot config and id formats; imports only pydantic and core.config, never the SDK."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from bots.discord.shard_config import DiscordShards
from core.config import BotConfig, Override, SecretRef
from core.config.fields import FrozenMap, HttpUrl, empty_map, pattern_check, url_check


def _snowflake_text(value: object) -> object:
    # YAML reads an unquoted Discord id as an int; ids are text everywhere else.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _snowflake(what: str) -> AfterValidator:
    return pattern_check("discord_id", r"[0-9]{15,21}", f"not a Discord {what} id (15-21 digits)")


DiscordUserId = Annotated[str, BeforeValidator(_snowflake_text), _snowflake("user")]
DiscordRoleId = Annotated[str, BeforeValidator(_snowflake_text), _snowflake("role")]
DiscordGuildId = Annotated[str, BeforeValidator(_snowflake_text), _snowflake("guild")]
DiscordChannelId = Annotated[str, BeforeValidator(_snowflake_text), _snowflake("channel")]
GatewayUrl = Annotated[str, url_check(("http", "https", "ws", "wss"), "an http(s) or ws(s)")]


class DiscordBotConfig(BotConfig):
    """A Discord bot; `workspaces` are guilds."""

    platform: Literal["discord"]
    workspaces: FrozenMap[DiscordGuildId, Override] = Field(default_factory=empty_map)
    channels: FrozenMap[DiscordChannelId, Override] = Field(default_factory=empty_map)
    token: SecretRef
    api_base_url: HttpUrl | None = None
    gateway_url: GatewayUrl | None = None
    # An @mention in a channel: answer in a new thread, or as a reply (a reply chain, which
    # continues whenever someone replies to one of Parley's messages).
    mention_reply: Literal["thread", "reply"] = "thread"
    allow_dms: bool = True
    # Slash commands: "guilds" registers them in each guild of `workspaces`/`allowed_guilds`
    # (shown at once); "global" once for every server and DMs (Discord may take up to an
    # hour); "auto" is "guilds" when a guild is listed, else "global".
    command_sync: Literal["auto", "guilds", "global"] = "auto"
    allowed_guilds: tuple[DiscordGuildId, ...] = ()  # empty: every server
    allowed_channels: tuple[DiscordChannelId, ...] = ()  # a thread counts as its parent
    allowed_roles: tuple[DiscordRoleId, ...] = ()
    allowed_users: tuple[DiscordUserId, ...] = ()
    admins: tuple[DiscordUserId, ...] = ()
    admin_roles: tuple[DiscordRoleId, ...] = ()
    moderation_channel: DiscordChannelId | None = None  # where admins hear of flagged messages
    shards: DiscordShards = Field(default_factory=DiscordShards)
