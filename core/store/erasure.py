"""Deleting stored content: by age (retention) or on an admin's request (`parley forget`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.store import queries as q
from core.store.feedback import ANONYMISE_SQL as ANONYMISE_FEEDBACK_SQL
from core.store.sql import Conn
from core.types import ConversationKey

# Usage rows of a forgotten user keep their tokens (totals and budgets stay right) but
# no longer say whose they were.
FORGOTTEN_USER = "forgotten"


@dataclass(frozen=True, slots=True)
class Place:
    """A conversation, a channel or a workspace: a key with its trailing parts left out."""

    platform: str
    workspace: str
    channel: str | None = None
    thread: str | None = None

    @classmethod
    def of(cls, key: ConversationKey) -> Place:
        return cls(key.platform, key.workspace, key.channel, key.thread)

    def __str__(self) -> str:
        parts = [p for p in (self.workspace, self.channel, self.thread) if p is not None]
        return f"{self.platform}:{'/'.join(parts)}"

    def where(self) -> tuple[str, tuple[str, ...]]:
        """A WHERE clause over (platform, workspace, channel, thread) columns, and its values."""
        columns = ("platform", "workspace", "channel", "thread")
        values = (self.platform, self.workspace, self.channel, self.thread)
        named = [(c, v) for c, v in zip(columns, values, strict=True) if v is not None]
        return " AND ".join(f"{c} = ?" for c, _ in named), tuple(v for _, v in named)


@dataclass(frozen=True, slots=True)
class Erased:
    """What one prune or forget deleted (or, for a dry run, would delete)."""

    messages: int = 0
    conversations: int = 0
    usage_rows: int = 0  # deleted by retention, or anonymised by `forget --user`
    events: int = 0
    ratings: int = 0  # feedback anonymised by `forget --user`


def _ids(values: Iterable[Any]) -> str:
    return json.dumps([int(v) for v in values])


async def drop_empty(conn: Conn, conversation_ids: Sequence[int]) -> int:
    """Delete those of these conversations that hold no message, with their links and
    thread persona choices; returns how many went."""
    rows = list(await conn.fetch(q.EMPTY_CONVERSATIONS_SQL, (_ids(conversation_ids),)))
    if not rows:
        return 0
    empty = _ids(row[0] for row in rows)
    await conn.run(q.DELETE_LINKS_SQL, (empty,))
    await conn.run_many(q.DELETE_THREAD_CHOICES_SQL, [tuple(row[1:]) for row in rows])
    return await conn.run(q.DELETE_CONVERSATIONS_SQL, (empty,))


async def prune_messages_batch(conn: Conn, cutoff: str) -> int:
    return await conn.run(q.PRUNE_MESSAGES_SQL, (cutoff, q.PRUNE_BATCH))


async def drop_stale_conversations(conn: Conn, cutoff: str) -> int:
    rows = await conn.fetch(q.STALE_CONVERSATIONS_SQL, (cutoff,))
    return await drop_empty(conn, [int(row[0]) for row in rows])


async def prune_events(conn: Conn, cutoff: str, keep: Sequence[str]) -> int:
    sql = q.PRUNE_EVENTS_SQL + q.KEEP_SCOPE_SQL * len(keep)
    return await conn.run(sql, (cutoff, *(v for prefix in keep for v in (prefix, prefix))))


async def forget_place(conn: Conn, place: Place) -> Erased:
    """Delete every conversation under `place` with its messages, links and persona choices."""
    where, values = place.where()
    rows = await conn.fetch(f"SELECT id FROM conversations WHERE {where}", values)
    found = _ids(row[0] for row in rows)
    (messages,) = next(iter(await conn.fetch(q.COUNT_MESSAGES_IN_SQL, (found,))))
    await conn.run(q.DELETE_LINKS_SQL, (found,))
    await conn.run(f"DELETE FROM persona_choices WHERE {where}", values)
    # Messages go with their conversation (ON DELETE CASCADE).
    conversations = await conn.run(q.DELETE_CONVERSATIONS_SQL, (found,))
    return Erased(messages=int(messages), conversations=conversations)


async def forget_user(conn: Conn, user_id: str) -> Erased:
    """Delete what this user wrote everywhere; anonymise their usage rows."""
    rows = await conn.fetch(q.USER_CONVERSATIONS_SQL, (user_id,))
    messages = await conn.run(q.DELETE_USER_MESSAGES_SQL, (user_id,))
    conversations = await drop_empty(conn, [int(row[0]) for row in rows])
    usage = await conn.run(q.ANONYMISE_USAGE_SQL, (FORGOTTEN_USER, user_id))
    ratings = await conn.run(ANONYMISE_FEEDBACK_SQL, (user_id,))
    return Erased(messages=messages, conversations=conversations, usage_rows=usage, ratings=ratings)
