"""Block Kit as a fake Slack checks it (markdown, section, context, actions and buttons,
context_actions, feedback_buttons) and the block_actions payload a click on feedback buttons
sends."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.fakes.slack_state import FakeMessage, SlackIdentity

MARKDOWN_BLOCK_LIMIT = 12_000
CONTEXT_ACTIONS_LIMIT = 5
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ID_LIMIT = 255
SECTION_TEXT_LIMIT = 3000
ACTIONS_LIMIT = 25
CONTEXT_LIMIT = 10
BUTTON_STYLES = (None, "primary", "danger")


class InvalidBlocks(Exception):
    """Slack answers {"ok": false, "error": "invalid_blocks"} with what is wrong."""


def check_blocks(blocks: list[Any]) -> None:
    for index, block in enumerate(blocks):
        where = f"[{index}]"
        if not isinstance(block, dict):
            raise InvalidBlocks(f"{where} must be an object")
        kind = block.get("type")
        if len(str(block.get("block_id", ""))) > ID_LIMIT:
            raise InvalidBlocks(f"{where}.block_id is longer than {ID_LIMIT}")
        if kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text or len(text) > MARKDOWN_BLOCK_LIMIT:
                raise InvalidBlocks(f"{where}.text must be 1 to {MARKDOWN_BLOCK_LIMIT} characters")
        elif kind == "context_actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ACTIONS_LIMIT:
                raise InvalidBlocks(f"{where}.elements must hold 1 to {CONTEXT_ACTIONS_LIMIT}")
            for number, element in enumerate(elements):
                _check_feedback_buttons(element, f"{where}.elements[{number}]")
        elif kind == "section":
            _check_text(block.get("text"), f"{where}.text", SECTION_TEXT_LIMIT)
        elif kind == "context":
            _check_context(block.get("elements"), f"{where}.elements")
        elif kind == "actions":
            _check_actions(block.get("elements"), f"{where}.elements")
        elif kind not in ("divider", "rich_text"):
            raise InvalidBlocks(f"{where}.type {kind!r} is not a block type")


def _check_text(text: Any, where: str, limit: int) -> None:
    if not isinstance(text, dict) or text.get("type") not in ("mrkdwn", "plain_text"):
        raise InvalidBlocks(f"{where} must be a mrkdwn or plain_text object")
    value = text.get("text")
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidBlocks(f"{where}.text must be 1 to {limit} characters")


def _check_context(elements: Any, where: str) -> None:
    if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_LIMIT:
        raise InvalidBlocks(f"{where} must hold 1 to {CONTEXT_LIMIT}")
    for number, element in enumerate(elements):
        _check_text(element, f"{where}[{number}]", SECTION_TEXT_LIMIT)


def _check_actions(elements: Any, where: str) -> None:
    if not isinstance(elements, list) or not 1 <= len(elements) <= ACTIONS_LIMIT:
        raise InvalidBlocks(f"{where} must hold 1 to {ACTIONS_LIMIT}")
    action_ids: set[str] = set()
    for number, button in enumerate(elements):
        at = f"{where}[{number}]"
        if not isinstance(button, dict) or button.get("type") != "button":
            raise InvalidBlocks(f"{at} must be a button (the only element this fake knows)")
        text = button.get("text")
        if not (isinstance(text, dict) and text.get("type") == "plain_text"):
            raise InvalidBlocks(f"{at}.text must be plain_text")
        if not 1 <= len(str(text.get("text", ""))) <= BUTTON_TEXT_LIMIT:
            raise InvalidBlocks(f"{at}.text must be 1 to {BUTTON_TEXT_LIMIT} characters")
        if len(str(button.get("value", ""))) > BUTTON_VALUE_LIMIT:
            raise InvalidBlocks(f"{at}.value must be at most {BUTTON_VALUE_LIMIT} characters")
        action_id = str(button.get("action_id", ""))
        if len(action_id) > ID_LIMIT:
            raise InvalidBlocks(f"{at}.action_id is longer than {ID_LIMIT}")
        if action_id and action_id in action_ids:
            raise InvalidBlocks(f"{at}.action_id must be unique in its block")
        action_ids.add(action_id)
        if button.get("style") not in BUTTON_STYLES:
            raise InvalidBlocks(f"{at}.style must be primary or danger")


def _check_feedback_buttons(element: Any, where: str) -> None:
    if not isinstance(element, dict) or element.get("type") not in (
        "feedback_buttons",
        "icon_button",
    ):
        raise InvalidBlocks(f"{where} must be feedback_buttons or icon_button")
    if element["type"] != "feedback_buttons":
        return
    if len(str(element.get("action_id", ""))) > ID_LIMIT:
        raise InvalidBlocks(f"{where}.action_id is longer than {ID_LIMIT}")
    for side in ("positive_button", "negative_button"):
        button = element.get(side)
        if not isinstance(button, dict):
            raise InvalidBlocks(f"{where}.{side} is required")
        text = button.get("text")
        if not (isinstance(text, dict) and text.get("type") == "plain_text"):
            raise InvalidBlocks(f"{where}.{side}.text must be plain_text")
        if not 1 <= len(str(text.get("text", ""))) <= BUTTON_TEXT_LIMIT:
            raise InvalidBlocks(f"{where}.{side}.text must be 1 to {BUTTON_TEXT_LIMIT} characters")
        value = button.get("value")
        if not isinstance(value, str) or not 1 <= len(value) <= BUTTON_VALUE_LIMIT:
            raise InvalidBlocks(
                f"{where}.{side}.value must be 1 to {BUTTON_VALUE_LIMIT} characters"
            )


def markdown_of(blocks: list[Any] | None) -> str | None:
    """What a message's markdown blocks show, joined; None without any."""
    texts = [b["text"] for b in blocks or () if isinstance(b, dict) and b.get("type") == "markdown"]
    return "\n".join(texts) if texts else None


def feedback_buttons(message: FakeMessage) -> dict[str, Any] | None:
    """The feedback_buttons element under a message, if it has one."""
    for block in message.blocks or ():
        if block.get("type") != "context_actions":
            continue
        for element in block["elements"]:
            if element.get("type") == "feedback_buttons":
                return dict(element, block_id=block.get("block_id") or "fake-block")
    return None


def feedback_click(
    identity: SlackIdentity, message: FakeMessage, user: str, *, positive: bool
) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` clicks 👍 (or 👎) under `message`."""
    element = feedback_buttons(message)
    if element is None:
        raise AssertionError(f"message {message.ts} shows no feedback buttons to click")
    button = element["positive_button" if positive else "negative_button"]
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": False,
    }
    if message.thread_ts is not None:
        container["thread_ts"] = message.thread_ts
    team = {"id": identity.team_id, "domain": identity.domain}
    shown = {"type": "message", "ts": message.ts, "user": message.user, "text": message.text}
    if message.thread_ts is not None:
        shown["thread_ts"] = message.thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team["id"]},
        "api_app_id": identity.app_id,
        "token": "fake-verification-token",
        "container": container,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.fake",
        "team": team,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "fake"},
        "message": dict(shown, blocks=message.blocks),
        "response_url": "https://hooks.slack.invalid/actions/fake",
        "actions": [
            {
                "type": "feedback_buttons",
                "action_id": element.get("action_id", ""),
                "block_id": element["block_id"],
                "text": button["text"],
                "value": button["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def interactive_envelope(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "payload": payload,
        "type": "interactive",
        "accepts_response_payload": False,
    }
