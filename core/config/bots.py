"""The config models for bots, one per platform, told apart by `platform`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from core.config.fields import (
    BotName,
    DiscordChannelId,
    DiscordGuildId,
    DiscordRoleId,
    DiscordUserId,
    Frozen,
    FrozenMap,
    GatewayUrl,
    HttpUrl,
    SlackChannelId,
    SlackUserId,
    SlackWorkspaceId,
    empty_map,
)
from core.config.schema import Override
from core.config.secrets import SecretRef

PLATFORMS = ("slack", "discord", "console")


class SlackHttpConfig(Frozen):
    """Where HTTP mode serves Slack's events URL (behind your TLS proxy)."""

    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port (tests)
    path: str = Field(default="/slack/events", pattern=r"^/")


class SuggestedPrompt(Frozen):
    """A button in Slack's assistant pane: the title shown and the message it sends."""

    title: str = Field(min_length=1)
    message: str = Field(min_length=1)


class SlackBotConfig(Frozen):
    """A Slack app: Socket Mode when `app_token` is given, HTTP mode with `signing_secret`."""

    name: BotName
    platform: Literal["slack"]
    persona: str
    workspaces: FrozenMap[SlackWorkspaceId, Override] = Field(default_factory=empty_map)
    channels: FrozenMap[SlackChannelId, Override] = Field(default_factory=empty_map)
    bot_token: SecretRef
    app_token: SecretRef | None = None
    signing_secret: SecretRef | None = None
    api_base_url: HttpUrl | None = None
    http: SlackHttpConfig = Field(default_factory=lambda: SlackHttpConfig())
    # "all": every message in a thread Parley is part of; "mentions": only @mentions.
    thread_replies: Literal["all", "mentions"] = "all"
    answer_bots: bool = False  # other bots' messages are ignored unless this is true
    allowed_channels: tuple[SlackChannelId, ...] = ()  # empty: every channel
    allowed_users: tuple[SlackUserId, ...] = ()  # empty: everyone
    admins: tuple[SlackUserId, ...] = ()
    on_denied: Literal["silent", "refuse"] = "silent"
    moderation_channel: SlackChannelId | None = None  # where admins hear of flagged messages
    suggested_prompts: tuple[SuggestedPrompt, ...] = ()

    @model_validator(mode="after")
    def _has_a_mode(self) -> SlackBotConfig:
        if self.app_token is None and self.signing_secret is None:
            raise PydanticCustomError(
                "slack_mode",
                "a Slack bot needs app_token (Socket Mode) or signing_secret (HTTP mode)",
            )
        return self


class DiscordBotConfig(Frozen):
    """A Discord bot; `workspaces` are guilds."""

    name: BotName
    platform: Literal["discord"]
    persona: str
    workspaces: FrozenMap[DiscordGuildId, Override] = Field(default_factory=empty_map)
    channels: FrozenMap[DiscordChannelId, Override] = Field(default_factory=empty_map)
    token: SecretRef
    api_base_url: HttpUrl | None = None
    gateway_url: GatewayUrl | None = None
    # An @mention in a channel: answer in a new thread, or as a reply (a reply chain, which
    # continues whenever someone replies to one of Parley's messages).
    mention_reply: Literal["thread", "reply"] = "thread"
    allow_dms: bool = True
    answer_bots: bool = False
    # Slash commands: "guilds" syncs to each guild in `workspaces`/`allowed_guilds` (instant);
    # "global" syncs once for every server (Discord takes up to an hour to show them).
    command_sync: Literal["guilds", "global"] = "guilds"
    allowed_guilds: tuple[DiscordGuildId, ...] = ()  # empty: every server
    allowed_channels: tuple[DiscordChannelId, ...] = ()  # a thread counts as its parent
    allowed_roles: tuple[DiscordRoleId, ...] = ()
    allowed_users: tuple[DiscordUserId, ...] = ()
    admins: tuple[DiscordUserId, ...] = ()
    admin_roles: tuple[DiscordRoleId, ...] = ()
    on_denied: Literal["silent", "refuse"] = "silent"
    moderation_channel: DiscordChannelId | None = None  # where admins hear of flagged messages


class ConsoleBotConfig(Frozen):
    """A chat in the terminal; `user_name` is the person typing."""

    name: BotName
    platform: Literal["console"]
    persona: str
    workspaces: FrozenMap[str, Override] = Field(default_factory=empty_map)
    channels: FrozenMap[str, Override] = Field(default_factory=empty_map)
    user_name: str = Field(default="you", min_length=1)


BotConfig = SlackBotConfig | DiscordBotConfig | ConsoleBotConfig
AnyBot = Annotated[BotConfig, Field(discriminator="platform")]
