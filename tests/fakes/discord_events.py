"""Builders of the gateway events a test sends: MESSAGE_CREATE, INTERACTION_CREATE, READY."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord_payloads import (
    ATTACHMENT_SIZE_LIMIT,
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    Payload,
    everyone_role,
    guild_payload,
)
from tests.fakes.discord_state import FakeDiscordMessage, FakeInteraction
from tests.fakes.discord_world import World

MESSAGE_CONTENT_INTENT = 1 << 15
_OPTION_TYPES: tuple[tuple[type, int], ...] = ((bool, 5), (int, 4), (float, 10), (str, 3))


def ready_event(world: World, session_id: str, resume_url: str, flags: int) -> Payload:
    identity = world.identity
    return {
        "v": 10,
        "user": {**world.users[identity.bot_user_id], "verified": True, "mfa_enabled": False},
        "guilds": [{"id": guild_id, "unavailable": True} for guild_id in world.guilds],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": identity.application_id, "flags": flags},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "user_settings": {},
        "geo_ordered_rtc_regions": ["us-east"],
        "auth": {},
        "_trace": ['["fake-discord-gateway",{"micros":1}]'],
    }


def guild_create_events(world: World) -> list[Payload]:
    events = []
    for guild in world.guilds.values():
        channels = world.guild_channels(guild.id)
        events.append(
            guild_payload(
                guild.id,
                guild.name,
                guild.owner_id,
                channels=[c for c in channels if c["type"] not in (11, 12)],
                threads=[c for c in channels if c["type"] in (11, 12)],
                members=[world.member(guild.id, user_id) for user_id in guild.member_ids],
                joined_at=guild.joined_at,
                roles=tuple(
                    everyone_role(role_id, name, position=1)
                    for role_id, name in guild.roles.items()
                ),
            )
        )
    return events


def message_create(
    world: World,
    channel_id: str,
    author_id: str,
    content: str,
    *,
    message_id: str | None = None,
    mentions: Sequence[str] = (),
    referenced_message: str | None = None,
    attachments: Sequence[Payload] = (),
) -> Payload:
    """Stores the message (it exists before its event arrives) and returns the event body."""
    reference = None
    if referenced_message is not None:
        target = world.find_anywhere(referenced_message)
        target_channel = channel_id if target is None else target.channel_id
        reference = {
            "type": 0,
            "message_id": referenced_message,
            "channel_id": target_channel,
            "guild_id": world.guild_of(target_channel),
        }
    message = FakeDiscordMessage(
        id=message_id or world.ids.next(),
        channel_id=channel_id,
        author_id=author_id,
        content=content,
        guild_id=world.guild_of(channel_id),
        message_reference=reference,
        attachments=list(attachments),
        mention_ids=list(mentions),
    )
    world.user(author_id)
    return world.render(world.store(message), gateway=True)


def hide_content(world: World, event: Payload, intents: int) -> Payload:
    """Without the message content intent Discord blanks other people's guild messages,
    unless they mention the bot."""
    if intents & MESSAGE_CONTENT_INTENT or "guild_id" not in event:
        return event
    bot_id = world.identity.bot_user_id
    author = event.get("author") or {}
    if author.get("id") == bot_id or any(u.get("id") == bot_id for u in event.get("mentions", [])):
        return event
    return {**event, "content": "", "embeds": [], "attachments": [], "components": []}


def option_payloads(options: Mapping[str, Any]) -> list[Payload]:
    """Slash command options from plain values: str 3, int 4, bool 5, float 10."""
    payloads = []
    for name, value in options.items():
        kind = next(code for python_type, code in _OPTION_TYPES if isinstance(value, python_type))
        payloads.append({"name": name, "type": kind, "value": value})
    return payloads


def interaction_create(
    world: World,
    name: str,
    *,
    options: Mapping[str, Any] | None = None,
    user_id: str,
    channel_id: str,
    interaction_id: str | None = None,
    locale: str = "en-US",
    user_install_only: bool = False,
    external_apps_allowed: bool = True,
) -> Payload:
    """An application command (type 2) interaction; the command id comes from the last sync."""
    guild_id = world.guild_of(channel_id)
    command = world.lookup_command(name, guild_id)
    data: Payload = {
        "id": command["id"] if command else world.ids.next(),
        "name": name,
        "type": 1,
        "options": option_payloads(options or {}),
    }
    if command is not None and "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    interaction = FakeInteraction(
        id=interaction_id or world.ids.next(),
        token=f"aW50ZXJhY3Rpb246{secrets.token_urlsafe(48)}",
        name=name,
        channel_id=channel_id,
        guild_id=guild_id,
        user_id=user_id,
        user_install_only=user_install_only,
        external_apps_allowed=external_apps_allowed,
    )
    payload = interaction_envelope(world, interaction, kind=2, data=data, locale=locale)
    payload["entitlement_sku_ids"] = []
    return payload


def interaction_envelope(
    world: World, interaction: FakeInteraction, *, kind: int, data: Payload, locale: str = "en-US"
) -> Payload:
    """An INTERACTION_CREATE body around `data`, as Discord sends any interaction type:
    where it happened (a server or a DM) and which install authorized it."""
    world.interactions[interaction.id] = interaction
    guild_id, user_id = interaction.guild_id, interaction.user_id
    payload: Payload = {
        "id": interaction.id,
        "application_id": world.identity.application_id,
        "type": kind,
        "data": data,
        "channel_id": interaction.channel_id,
        "channel": world.channels[interaction.channel_id],
        "token": interaction.token,
        "version": 1,
        "app_permissions": BOT_PERMISSIONS,
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if guild_id is not None:
        member = {**world.member(guild_id, user_id), "permissions": EVERYONE_PERMISSIONS}
        payload.update(
            guild_id=guild_id,
            guild={"id": guild_id, "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=member,
            authorizing_integration_owners={"0": guild_id},
            context=0,
        )
    else:
        payload.update(
            user=world.user(user_id),
            authorizing_integration_owners={"0": world.identity.user_id},
            context=1,
        )
    if interaction.user_install_only:
        # Used through the person's own install: in a DM the bot is not in, a group DM.
        payload["authorizing_integration_owners"] = {"1": user_id}
        payload["context"] = 0 if guild_id is not None else 2
    return payload
