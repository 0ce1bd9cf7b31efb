"""Conversation keys as admins type them, and one conversation as a JSON document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.errors import ParleyError
from core.store import ExportedMessage, Place
from core.types import ConversationKey

EXPORT_FORMAT = "parley.conversation/1"
KEY_FORM = "platform:workspace/channel/thread, as in the `turn ...` log lines"


def parse_place(text: str, parts: int) -> Place:
    """`platform:workspace[/channel[/thread]]` with exactly `parts` parts in all.

    The thread comes last and may itself contain '/' (console thread names can).
    """
    platform, colon, rest = text.partition(":")
    values = rest.split("/", parts - 2)
    if not colon or not platform or len(values) != parts - 1 or not all(values):
        raise ParleyError(f"{text!r} is not of the form {_form(parts)}")
    return Place(platform, *values)


def parse_key(text: str) -> ConversationKey:
    place = parse_place(text, 4)
    assert place.channel is not None and place.thread is not None  # four parts parsed
    return ConversationKey(place.platform, place.workspace, place.channel, place.thread)


def _form(parts: int) -> str:
    return ("platform:workspace", "platform:workspace/channel", KEY_FORM)[parts - 2]


def transcript_document(
    key: ConversationKey, messages: list[ExportedMessage], exported_at: datetime
) -> dict[str, Any]:
    """The `parley export` document; field names are part of the documented format."""
    return {
        "format": EXPORT_FORMAT,
        "key": str(key),
        "platform": key.platform,
        "workspace": key.workspace,
        "channel": key.channel,
        "thread": key.thread,
        "exported_at": exported_at.isoformat(),
        "messages": [_message(m) for m in messages],
    }


def _message(exported: ExportedMessage) -> dict[str, Any]:
    m = exported.message
    return {
        "id": m.id,
        "role": m.role,
        "author_id": m.author_id,
        "author_name": m.author_name,
        "content": m.content,
        "status": m.status,
        "error": m.error,
        "created_at": m.created_at.isoformat(),
        "token_count": m.token_count,
        "prompt_tokens": exported.prompt_tokens,
        "completion_tokens": exported.completion_tokens,
        "platform_message_id": m.platform_message_id,
        "feedback": [
            {"user_id": f.user_id, "rating": f.rating, "clicked_at": f.clicked_at.isoformat()}
            for f in exported.feedback
        ],
    }
