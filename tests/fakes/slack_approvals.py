"""What a fake Slack needs for tool approvals: chat.postEphemeral (a note one person sees)
and the block_actions payload a click on an actions block's button sends."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes.slack_api import Body, Params, SlackError, content
from tests.fakes.slack_state import FakeMessage, SlackIdentity, Workspace


@dataclass(frozen=True)
class Ephemeral:
    """A message only `user` sees, in `channel` (and `thread_ts`); never in the history."""

    channel: str
    user: str
    text: str
    thread_ts: str | None


class EphemeralMethods:
    """chat.postEphemeral, checked as Slack does: a channel, a user who is in the workspace,
    and content like any post's. What was shown to whom is kept in `shown`."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self.shown: list[Ephemeral] = []
        self.methods = {"chat.postEphemeral": self._post_ephemeral}

    def _post_ephemeral(self, params: Params) -> Body:
        channel = params.get("channel")
        if not channel:
            raise SlackError("channel_not_found")
        user = str(params.get("user") or "")
        if user not in self._workspace.users:
            raise SlackError("user_not_in_channel")
        text, _, _ = content(params)
        thread_ts = params.get("thread_ts") or None
        self.shown.append(Ephemeral(str(channel), user, text, thread_ts))
        return {"ok": True, "message_ts": self._workspace.next_ts()}

    def to(self, user: str) -> list[str]:
        return [note.text for note in self.shown if note.user == user]


def button_in(message: FakeMessage, action_id: str) -> tuple[dict[str, Any], str]:
    """The button with `action_id` in the message's actions blocks, and its block's id."""
    for block in message.blocks or ():
        if block.get("type") != "actions":
            continue
        for element in block["elements"]:
            if element.get("action_id") == action_id:
                return element, str(block.get("block_id") or "fake-block")
    raise AssertionError(f"message {message.ts} shows no {action_id} button")


def button_click(
    identity: SlackIdentity, message: FakeMessage, user: str, action_id: str
) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` clicks the button."""
    button, block_id = button_in(message, action_id)
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": False,
    }
    shown: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text}
    if message.thread_ts is not None:
        container["thread_ts"] = shown["thread_ts"] = message.thread_ts
    team = {"id": identity.team_id, "domain": identity.domain}
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team["id"]},
        "api_app_id": identity.app_id,
        "token": "fake-verification-token",
        "container": container,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.fake",
        "team": team,
        "channel": {"id": message.channel, "name": "fake"},
        "message": dict(shown, user=message.user, blocks=message.blocks),
        "response_url": "https://hooks.slack.invalid/actions/fake",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": button["text"],
                "value": button.get("value", ""),
                "style": button.get("style"),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
