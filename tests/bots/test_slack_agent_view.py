"""What Slack says a user is looking at, read from payloads as sent, odd ones included."""

from __future__ import annotations

from typing import Any

import pytest

from bots.slack.agent_view import viewed_channel

CHANNEL = {"type": "slack#/types/channel_id", "value": "C0GENERAL", "team_id": "T0"}
CANVAS = {"type": "slack#/types/canvas_id", "value": "F0CANVAS", "team_id": "T0"}


def test_the_first_channel_entity_is_the_one_in_view() -> None:
    event = {
        "type": "app_context_changed",
        "user": "U0A",
        "context": {"entities": [CANVAS, CHANNEL]},
    }
    assert viewed_channel(event, {}) == ("U0A", "C0GENERAL")


def test_slacks_own_example_names_the_user_only_in_authorizations() -> None:
    event = {"type": "app_context_changed", "context": {"entities": [CHANNEL]}}
    body = {"authorizations": [{"user_id": "U0A", "is_bot": False}]}
    assert viewed_channel(event, body) == ("U0A", "C0GENERAL")
    bot_only = {"authorizations": [{"user_id": "U0BOT", "is_bot": True}]}
    assert viewed_channel(event, bot_only) == ("", "C0GENERAL")


def test_the_assistant_panes_context_event_is_read_too() -> None:
    event = {
        "type": "assistant_thread_context_changed",
        "assistant_thread": {"user_id": "U0A", "context": {"channel_id": "C0GENERAL"}},
    }
    assert viewed_channel(event, {}) == ("U0A", "C0GENERAL")


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"entities": "C0GENERAL"},
        {"entities": [None, 3, {"type": "slack#/types/channel_id"}]},
        "x",
    ],
)
def test_a_malformed_context_is_no_channel_never_a_crash(context: Any) -> None:
    event = {"type": "app_context_changed", "user": "U0A", "context": context}
    assert viewed_channel(event, {}) == ("U0A", "")
