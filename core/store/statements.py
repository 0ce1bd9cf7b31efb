"""Statements the store runs in more than one place, each one trip to SQLite's thread."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

from core.errors import StoreError
from core.store import queries as q
from core.store.records import NewMessage


async def insert_messages(
    conn: aiosqlite.Connection, conversation_id: int, messages: Sequence[NewMessage], now: str
) -> list[int]:
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
        )
    ]
    rows = list(await conn.execute_fetchall(q.insert_messages_sql(len(messages)), params))
    if len(rows) != len(messages):
        raise StoreError(f"saving {len(messages)} messages returned {len(rows)} ids")
    return sorted(int(row[0]) for row in rows)


async def run(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Execute one statement and return the rows it changed."""
    async with conn.execute(sql, params) as cursor:
        return cursor.rowcount


async def rollback(conn: aiosqlite.Connection) -> None:
    # A cancelled COMMIT may still have gone through; there is then nothing to undo.
    with contextlib.suppress(sqlite3.Error):
        await conn.execute("ROLLBACK")
