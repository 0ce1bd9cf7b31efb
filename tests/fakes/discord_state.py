"""What a fake Discord holds: identity, calls, downloads, messages and interaction responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_payloads import Payload, iso_now


@dataclass(frozen=True)
class DiscordIdentity:
    """The bot, its application and the one guild it starts in; ids are 19-digit snowflakes."""

    token: str = "fake-bot-token.parley.0123456789"
    bot_user_id: str = "1200000000000000001"
    # Applications created since 2019 share their id with their bot user.
    application_id: str = "1200000000000000001"
    bot_name: str = "parley"
    guild_id: str = "1200000000000000100"
    guild_name: str = "Acme"
    channel_id: str = "1200000000000000200"
    channel_name: str = "general"
    user_id: str = "1200000000000000300"
    user_name: str = "alice"


@dataclass(frozen=True)
class RestCall:
    """One REST request; `path` is relative to /api/v10 and `json` is the body (or payload_json)."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    query: dict[str, str]
    at: float


@dataclass(frozen=True)
class Download:
    """One GET of an attachment URL; Discord's CDN needs no Authorization, so it is only noted."""

    attachment_id: str
    filename: str
    authorization: str | None
    status: int
    at: float


@dataclass
class FakeDiscordMessage:
    """A message in a channel; `edits` counts successful PATCHes of it."""

    id: str
    channel_id: str
    author_id: str
    content: str
    guild_id: str | None = None
    message_reference: Payload | None = None
    allowed_mentions: Payload | None = None
    attachments: list[Payload] = field(default_factory=list)
    embeds: list[Payload] = field(default_factory=list)
    components: list[Payload] = field(default_factory=list)
    flags: int = 0
    edits: int = 0
    thread_id: str | None = None
    interaction_id: str | None = None
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    history: list[str] = field(default_factory=list)
    mention_ids: list[str] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass
class FakeInteraction:
    """An interaction the fake sent and how the bot answered it."""

    id: str
    token: str
    name: str
    channel_id: str
    guild_id: str | None
    user_id: str
    callback_type: int | None = None
    callbacks: int = 0
    original: FakeDiscordMessage | None = None
    followups: list[FakeDiscordMessage] = field(default_factory=list)
    sent_at: float | None = None  # monotonic time of its INTERACTION_CREATE dispatch
    # Used through a user's install where the bot itself is not (a server without it, a
    # group DM): Discord allows 5 follow-ups, and forces every answer ephemeral where the
    # server does not let members use external apps.
    user_install_only: bool = False
    external_apps_allowed: bool = True

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        """True when the first answer was type 5 (thinking) or 6 (deferred update)."""
        return self.callback_type in (5, 6)

    @property
    def original_content(self) -> str | None:
        return None if self.original is None else self.original.content

    @property
    def followup_contents(self) -> list[str]:
        return [message.content for message in self.followups]


@dataclass
class StoredAttachment:
    """An uploaded or seeded file served at /attachments/{channel}/{id}/{filename}."""

    payload: Payload
    data: bytes
