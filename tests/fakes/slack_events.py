"""Events API payloads and Socket Mode envelopes as Slack builds them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.fakes.slack_state import SlackIdentity


def event_callback(
    identity: SlackIdentity, event: dict[str, Any], *, event_id: str, team_id: str | None
) -> dict[str, Any]:
    """The event_callback body HTTP mode POSTs and Socket Mode puts in an envelope."""
    team = team_id or identity.team_id
    authorization = {
        "enterprise_id": None,
        "team_id": team,
        "user_id": identity.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    return {
        "token": "fake-verification-token",
        "team_id": team,
        "context_team_id": team,
        "context_enterprise_id": None,
        "api_app_id": identity.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [authorization],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{uuid.uuid4().hex}",
    }


def events_api_envelope(
    payload: dict[str, Any], *, retry_attempt: int, retry_reason: str
) -> dict[str, Any]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "payload": payload,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry_attempt,
        "retry_reason": retry_reason,
    }
