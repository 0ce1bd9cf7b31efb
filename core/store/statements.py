"""Statements the store runs in more than one place, each one trip to the database."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import StoreError
from core.store import queries as q
from core.store.records import NewMessage
from core.store.sql import Conn


async def insert_messages(
    conn: Conn,
    conversation_id: int,
    messages: Sequence[NewMessage],
    now: str,
    replica: str,
) -> list[int]:
    """`replica` names the writer: a restart sweeps only the replies its own replica left."""
    params = [
        value
        for m in messages
        for value in (
            conversation_id,
            m.role,
            m.author_id,
            m.author_name,
            m.content,
            m.status,
            m.error,
            m.token_count,
            m.platform_message_id,
            now,
            replica,
        )
    ]
    rows = list(await conn.fetch(q.insert_messages_sql(len(messages)), params))
    if len(rows) != len(messages):
        raise StoreError(f"saving {len(messages)} messages returned {len(rows)} ids")
    return sorted(int(row[0]) for row in rows)
