"""JSON shapes of Discord objects (users, guilds, channels, members) as the API sends them."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

Payload = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
# What a default @everyone role gets: view, send, read history, embed, attach, threads...
EVERYONE_PERMISSIONS = "1071698660929"
# The bot's effective permissions in interactions (app_permissions): the above plus admin-free
# message management, which is what a chat bot is usually invited with.
BOT_PERMISSIONS = "1073741824000"
# Interactions carry the upload limit of the guild (25 MiB on a non-boosted guild).
ATTACHMENT_SIZE_LIMIT = 26_214_400
MESSAGE_CONTENT_LIMIT = 2000

TEXT_CHANNEL = 0
DM_CHANNEL = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12


class Snowflakes:
    """Increasing snowflake ids (19 digits) built from the clock, as Discord builds them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last = max(stamp, self._last + 1)
            return str(self._last)


def iso_now() -> str:
    """Discord's timestamp format: ISO 8601 with microseconds and a +00:00 offset."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


def user_payload(user_id: str, username: str, *, bot: bool = False) -> Payload:
    user: Payload = {
        "id": user_id,
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username.title(),
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
    }
    if bot:
        user["bot"] = True
    return user


def member_payload(user: Payload | None, joined_at: str, roles: list[str]) -> Payload:
    """A guild member; `user` is None for the partial member inside MESSAGE_CREATE."""
    member: Payload = {
        "roles": roles,
        "nick": None,
        "avatar": None,
        "banner": None,
        "joined_at": joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if user is not None:
        member["user"] = user
    return member


def everyone_role(guild_id: str, name: str = "@everyone", position: int = 0) -> Payload:
    """The @everyone role (its id is the guild's); another id and name make a plain role."""
    return {
        "id": guild_id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": EVERYONE_PERMISSIONS,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel_payload(channel_id: str, guild_id: str, name: str, position: int) -> Payload:
    return {
        "id": channel_id,
        "type": TEXT_CHANNEL,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
        "default_auto_archive_duration": 1440,
    }


def thread_payload(
    thread_id: str,
    guild_id: str,
    parent_id: str,
    owner_id: str,
    name: str,
    *,
    private: bool = False,
    auto_archive_duration: int = 1440,
) -> Payload:
    now = iso_now()
    return {
        "id": thread_id,
        "type": PRIVATE_THREAD if private else PUBLIC_THREAD,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": now,
            "locked": False,
            "create_timestamp": now,
            **({"invitable": True} if private else {}),
        },
        "member": {"id": thread_id, "user_id": owner_id, "join_timestamp": now, "flags": 0},
    }


def dm_channel_payload(channel_id: str, recipient: Payload) -> Payload:
    return {
        "id": channel_id,
        "type": DM_CHANNEL,
        "last_message_id": None,
        "flags": 0,
        "recipients": [recipient],
    }


def guild_payload(
    guild_id: str,
    name: str,
    owner_id: str,
    *,
    channels: list[Payload],
    threads: list[Payload],
    members: list[Payload],
    joined_at: str,
    roles: tuple[Payload, ...] = (),
) -> Payload:
    """A GUILD_CREATE body: the guild with its channels, threads, roles and members."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "application_id": None,
        "features": [],
        "roles": [everyone_role(guild_id), *roles],
        "emojis": [],
        "stickers": [],
        "joined_at": joined_at,
        "large": False,
        "lazy": True,
        "unavailable": False,
        "member_count": len(members),
        "max_members": 25_000_000,
        "voice_states": [],
        "members": members,
        "channels": [{k: v for k, v in c.items() if k != "guild_id"} for c in channels],
        "threads": threads,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "activity_instances": [],
    }


def application_payload(application_id: str, bot: Payload, owner: Payload, flags: int) -> Payload:
    """GET /oauth2/applications/@me, which discord.py's login() fetches."""
    return {
        "id": application_id,
        "name": bot["username"],
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": flags,
        "owner": owner,
        "team": None,
        "bot": bot,
        "hook": True,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "tags": [],
        "install_params": None,
        "integration_types_config": {"0": {}},
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
    }
