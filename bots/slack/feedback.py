"""👍/👎 under a finished Slack reply: the blocks that show them, and a click translated."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from core.types import FeedbackClick, Rating

log = logging.getLogger(__name__)

ACTION_ID = "parley_feedback"
# A button's value: the rating and the stored reply's id, e.g. "up:42".
_RATINGS: dict[str, Rating] = {"up": "up", "down": "down"}
# SQLite's largest integer: no stored reply has a larger id, and a larger one cannot be looked up.
_LARGEST_ID = 2**63 - 1


def _button(emoji: str, label: str, value: str) -> dict[str, Any]:
    return {
        "text": {"type": "plain_text", "text": emoji},
        "value": value,
        "accessibility_label": label,
    }


def feedback_block(reply_id: int) -> dict[str, Any]:
    """The context_actions block of 👍/👎 for the stored reply `reply_id` (whatever sends the
    reply's last message attaches it: the final chat.update here, chat.stopStream when
    streaming natively)."""
    buttons = {
        "type": "feedback_buttons",
        "action_id": ACTION_ID,
        "positive_button": _button("👍", "Good answer", f"up:{reply_id}"),
        "negative_button": _button("👎", "Bad answer", f"down:{reply_id}"),
    }
    return {"type": "context_actions", "elements": [buttons]}


def reply_blocks(markdown: str, reply_id: int) -> list[dict[str, Any]]:
    """The reply's last message as blocks: its text (a markdown block renders as
    markdown_text does, which cannot be sent with blocks) and the feedback buttons."""
    return [{"type": "markdown", "text": markdown}, feedback_block(reply_id)]


def click_of(body: dict[str, Any], action: dict[str, Any], bot: str) -> FeedbackClick | None:
    """The click a block_actions payload carries; None (logged) for one Parley did not make."""
    rating_text, _, reply_text = str(action.get("value", "")).partition(":")
    rating = _RATINGS.get(rating_text)
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    user = (body.get("user") or {}).get("id")
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    try:
        reply_id = int(reply_text)
        clicked_at = datetime.fromtimestamp(float(action.get("action_ts", "")), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        # OverflowError and OSError: a time no datetime holds ("1e300", "inf").
        reply_id, clicked_at = 0, None
    known = 0 < reply_id <= _LARGEST_ID
    if rating is None or not known or clicked_at is None or not (channel and user and team):
        log.warning("slack: a feedback click with a value Parley never set was ignored")
        return None
    return FeedbackClick(
        bot, "slack", str(team), str(channel), reply_id, str(user), rating, clicked_at
    )
