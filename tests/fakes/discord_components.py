"""Message components as a fake Discord checks them, and the interaction a button click sends."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.discord_events import interaction_envelope
from tests.fakes.discord_payloads import (
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


def button_labelled(message: FakeDiscordMessage, label: str) -> Payload:
    for row in message.components:
        for button in row.get("components", []):
            if button.get("label") == label:
                return dict(button)
    raise AssertionError(f"message {message.id} shows no {label!r} button")


def component_interaction(
    world: World, message: FakeDiscordMessage, user_id: str, custom_id: str
) -> Payload:
    """An INTERACTION_CREATE body of type 3 (a button click on `message`)."""
    answered = world.interactions.get(message.interaction_id or "")
    interaction = FakeInteraction(
        id=world.ids.next(),
        token=f"aW50ZXJhY3Rpb246{secrets.token_urlsafe(48)}",
        name=custom_id,
        channel_id=message.channel_id,
        guild_id=message.guild_id,
        user_id=user_id,
        # A click on an answer given through a user's install comes through that install.
        user_install_only=answered is not None and answered.user_install_only,
    )
    payload = interaction_envelope(
        world, interaction, kind=3, data={"custom_id": custom_id, "component_type": BUTTON}
    )
    payload["message"] = world.render(message)
    return payload
