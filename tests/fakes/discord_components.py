"""Message components as a fake Discord checks them, and the interaction a button click sends."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.discord_payloads import (
    ATTACHMENT_SIZE_LIMIT,
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    Payload,
)
from tests.fakes.discord_state import FakeDiscordMessage, FakeInteraction
from tests.fakes.discord_world import World

ACTION_ROW, BUTTON = 1, 2
ROWS_LIMIT, BUTTONS_PER_ROW = 5, 5
CUSTOM_ID_LIMIT, LABEL_LIMIT = 100, 80
LINK_STYLE = 5


def components_error(components: Any) -> str | None:
    """What Discord's 400 (50035 Invalid Form Body) would name, or None if they are valid."""
    if not isinstance(components, list) or len(components) > ROWS_LIMIT:
        return f"components must be a list of at most {ROWS_LIMIT} action rows"
    seen: set[str] = set()
    for row in components:
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            return "a top-level component must be an action row (type 1)"
        buttons = row.get("components")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_PER_ROW:
            return f"an action row holds 1 to {BUTTONS_PER_ROW} components"
        for button in buttons:
            problem = _button_error(button, seen)
            if problem is not None:
                return problem
    return None


def _button_error(button: Any, seen: set[str]) -> str | None:
    if not isinstance(button, dict) or button.get("type") != BUTTON:
        return "only buttons (type 2) are known to this fake"
    if not (button.get("label") or button.get("emoji")):
        return "a button needs a label or an emoji"
    if len(str(button.get("label") or "")) > LABEL_LIMIT:
        return f"a button label is at most {LABEL_LIMIT} characters"
    if button.get("style") == LINK_STYLE:
        return None if button.get("url") else "a link button needs a url"
    custom_id = button.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
        return f"a button's custom_id must be 1 to {CUSTOM_ID_LIMIT} characters"
    if custom_id in seen:
        return "custom_id values must be unique in a message"
    seen.add(custom_id)
    return None


def button_with(message: FakeDiscordMessage, emoji: str) -> Payload:
    for row in message.components:
        for button in row.get("components", []):
            if (button.get("emoji") or {}).get("name") == emoji:
                return dict(button)
    raise AssertionError(f"message {message.id} shows no {emoji} button")


def component_interaction(
    world: World, message: FakeDiscordMessage, user_id: str, custom_id: str
) -> Payload:
    """An INTERACTION_CREATE body of type 3 (a button click on `message`)."""
    channel_id, guild_id = message.channel_id, message.guild_id
    interaction = FakeInteraction(
        id=world.ids.next(),
        token=f"aW50ZXJhY3Rpb246{secrets.token_urlsafe(48)}",
        name=custom_id,
        channel_id=channel_id,
        guild_id=guild_id,
        user_id=user_id,
    )
    world.interactions[interaction.id] = interaction
    payload: Payload = {
        "id": interaction.id,
        "application_id": world.identity.application_id,
        "type": 3,
        "data": {"custom_id": custom_id, "component_type": BUTTON},
        "message": world.render(message),
        "channel_id": channel_id,
        "channel": world.channels[channel_id],
        "token": interaction.token,
        "version": 1,
        "app_permissions": BOT_PERMISSIONS,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if guild_id is not None:
        member = {**world.member(guild_id, user_id), "permissions": EVERYONE_PERMISSIONS}
        payload.update(guild_id=guild_id, member=member, guild_locale="en-US", context=0)
        payload["authorizing_integration_owners"] = {"0": guild_id}
    else:
        payload.update(user=world.user(user_id), context=1)
        payload["authorizing_integration_owners"] = {"0": world.identity.user_id}
    return payload
