"""A tool approval request on Slack: its Block Kit message, and the same settled."""

from __future__ import annotations

from typing import Any

from bots.reply.tool_text import decision_mark
from core.types import ApprovalRequest, ApprovalSettled

APPROVE_ACTION = "parley_tool_approve"
DENY_ACTION = "parley_tool_deny"
# The actions block's id carries the asker's user id: a refusal can name them without any
# state kept between the post and the click (the decision itself is core's).
BLOCK_PREFIX = "parley_tool:"
SECTION_TEXT_LIMIT = 3000


def escaped(text: str) -> str:
    """mrkdwn's three control characters: a tool's arguments must not ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _request_section(request: ApprovalRequest) -> dict[str, Any]:
    arguments = escaped(request.arguments).replace("```", "`\u200b``")
    head = (
        f"*{escaped(request.asked_by.display_name)}* asked me to run "
        f"`{escaped(request.tool)}` with:\n"
    )
    room = SECTION_TEXT_LIMIT - len(head) - 6
    if len(arguments) > room:
        arguments = arguments[: room - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"{head}```{arguments}```"}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(label: str, action_id: str, style: str, request_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "style": style,
        "value": request_id,
    }


def request_blocks(request: ApprovalRequest) -> list[dict[str, Any]]:
    unix = int(request.expires_at.timestamp())
    fallback = request.expires_at.strftime("%H:%M UTC")
    expires = f"Expires <!date^{unix}^{{time}}|{fallback}>: unanswered, it is denied."
    actions = {
        "type": "actions",
        "block_id": f"{BLOCK_PREFIX}{request.asked_by.id}"[:255],
        "elements": [
            _button("Approve", APPROVE_ACTION, "primary", request.id),
            _button("Deny", DENY_ACTION, "danger", request.id),
        ],
    }
    return [_request_section(request), _context(expires), actions]


def settled_blocks(settled: ApprovalSettled, decision: str) -> list[dict[str, Any]]:
    line = f"{decision_mark(settled)} {escaped(decision)}"
    return [_request_section(settled.request), _context(line)]


def request_text(request: ApprovalRequest) -> str:
    """The notification's words (blocks carry the rest)."""
    who, tool = escaped(request.asked_by.display_name), escaped(request.tool)
    return f"Approval needed: {who} asked me to run {tool}"
