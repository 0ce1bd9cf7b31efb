"""Slack's bot config and id formats; imports only pydantic and core.config, never the SDK."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bots.slack.tokens import check_token, token_kind
from core.config import BotConfig, Override, SecretRef
from core.config.fields import Frozen, FrozenMap, HttpUrl, empty_map, pattern_check

SlackWorkspaceId = Annotated[
    str,
    pattern_check(
        "slack_id", r"[TE][A-Z0-9]{2,}", "not a Slack workspace id (they look like T0123ABCD)"
    ),
]
SlackChannelId = Annotated[
    str,
    pattern_check(
        "slack_id", r"[CDG][A-Z0-9]{2,}", "not a Slack channel id (they look like C0123ABCD)"
    ),
]
SlackUserId = Annotated[
    str,
    pattern_check(
        "slack_id", r"[UW][A-Z0-9]{2,}", "not a Slack user id (they look like U0123ABCD)"
    ),
]


class SlackHttpConfig(Frozen):
    """Where HTTP mode serves Slack's events URL (behind your TLS proxy)."""

    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port (tests)
    path: str = Field(default="/slack/events", pattern=r"^/")
    # A client that opens a connection and stops mid-request is dropped after these; Slack
    # sends a whole event in well under a second.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    # Open connections at once: below the common 1,024 file descriptors, so a flood of them
    # leaves room for the store, the model's connections and /healthz.
    max_connections: int = Field(default=256, ge=1)


class SuggestedPrompt(Frozen):
    """A prompt Slack offers atop a conversation with the app: its title and the message it
    sends (the Messages tab in the agent view, each new thread in the assistant pane)."""

    title: str = Field(min_length=1)
    message: str = Field(min_length=1)


class SlackBotConfig(BotConfig):
    """A Slack app: Socket Mode when `app_token` is given, HTTP mode with `signing_secret`."""

    platform: Literal["slack"]
    workspaces: FrozenMap[SlackWorkspaceId, Override] = Field(default_factory=empty_map)
    channels: FrozenMap[SlackChannelId, Override] = Field(default_factory=empty_map)
    bot_token: SecretRef
    app_token: SecretRef | None = None
    signing_secret: SecretRef | None = None
    api_base_url: HttpUrl | None = None
    http: SlackHttpConfig = Field(default_factory=lambda: SlackHttpConfig())
    # "all": every message in a thread Parley is part of; "mentions": only @mentions.
    thread_replies: Literal["all", "mentions"] = "all"
    allowed_channels: tuple[SlackChannelId, ...] = ()  # empty: every channel
    allowed_users: tuple[SlackUserId, ...] = ()  # empty: everyone
    admins: tuple[SlackUserId, ...] = ()
    moderation_channel: SlackChannelId | None = None  # where admins hear of flagged messages
    suggested_prompts: tuple[SuggestedPrompt, ...] = Field(default=(), max_length=4)
    # "agent": the app uses Slack's agent messaging experience (manifest `agent_view`, every
    # app created since 2026-06-30): each message in its DM starts a thread, answered there.
    # "assistant": an app still on `assistant_view`: the pane's threads, and a DM's top level
    # as one running conversation.
    experience: Literal["agent", "assistant"] = "agent"
    # "native": a reply in a thread streams as one message (chat.startStream/appendStream/
    # stopStream), going on by chat.update where Slack refuses or ends a stream; "edits": it
    # is posted and edited (chat.postMessage, chat.update). A DM's top level always edits:
    # Slack streams only thread replies.
    streaming: Literal["native", "edits"] = "native"

    @field_validator("bot_token", "app_token")
    @classmethod
    def _token_of_its_kind(cls, ref: SecretRef | None, info: ValidationInfo) -> SecretRef | None:
        return None if ref is None else check_token(str(info.field_name), ref)

    @field_validator("signing_secret")
    @classmethod
    def _secret_not_a_token(cls, ref: SecretRef | None) -> SecretRef | None:
        # A signing secret is 32 hex characters; a token there is a clear mix-up.
        if ref is not None and ref.is_set and (kind := token_kind(ref.reveal())):
            raise PydanticCustomError(
                "slack_token",
                f"${{{ref.variable}}} is {kind}, not a signing secret; signing_secret takes "
                "the Signing Secret (Basic Information > App Credentials)",
            )
        return ref

    @model_validator(mode="after")
    def _has_a_mode(self) -> SlackBotConfig:
        if self.app_token is None and self.signing_secret is None:
            raise PydanticCustomError(
                "slack_mode",
                "a Slack bot needs app_token (Socket Mode) or signing_secret (HTTP mode)",
            )
        return self
