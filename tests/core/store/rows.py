"""Rows for store tests: one message at a time, which production never needs."""

from __future__ import annotations

from core.store import NewMessage, Store
from core.types import ConversationKey, MessageStatus, Role


async def add_message(
    store: Store,
    key: ConversationKey,
    *,
    role: Role,
    author_id: str,
    author_name: str,
    content: str,
    status: MessageStatus,
    token_count: int,
    platform_message_id: str = "",
    error: str = "",
) -> int:
    """Stores one message through the store's own write path and returns its id."""
    message = NewMessage(
        role, author_id, author_name, content, status, token_count, platform_message_id, error
    )
    (message_id,) = await store.add_messages(key, [message])
    return message_id
