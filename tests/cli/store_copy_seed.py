"""A SQLite store holding a row of every kind, written through the store's own API, for the
`parley store copy` tests."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from core.store import NewMessage, Store, UsageRecord
from core.types import ConversationKey, FeedbackClick

SLACK = ConversationKey(platform="slack", workspace="T1", channel="C1", thread="1700000000.1")
DISCORD = ConversationKey(platform="discord", workspace="G1", channel="D1", thread="")
FORGOTTEN = ConversationKey(platform="slack", workspace="T1", channel="C9", thread="1700000009.9")
TOOLS = json.dumps([{"id": "call_1", "name": "search", "state": "done", "result": "3 pages"}])
CLICKED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
TABLES = (
    "conversations", "messages", "message_links", "usage",
    "feedback", "persona_choices", "processed_events",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Seeded:
    reply_id: int  # the Slack reply with a tool exchange, usage and feedback
    forgotten_id: int  # the highest message id ever given, whose message is gone


def _said(content: str, *, role: str = "user") -> NewMessage:
    if role == "user":
        return NewMessage("user", "U1", "Ada", content, "complete", len(content))
    return NewMessage("assistant", "helper", "helper", content, "complete", len(content))


async def seed(path: Path, *, bulk: int = 0) -> Seeded:
    """Two conversations with everything a turn leaves, `bulk` more messages in further
    Slack threads, and last a conversation whose message was forgotten."""
    async with await Store.open(path, replica="box-1") as store:
        await store.add_messages(SLACK, [_said("what is on the wiki?")])
        (reply_id,) = await store.add_messages(
            SLACK, [NewMessage("assistant", "helper", "helper", "", "partial", 0, "1700000000.2")]
        )
        await store.record_tools(reply_id, TOOLS)
        await store.update_message(reply_id, content="3 pages.", status="complete", token_count=3)
        usage = UsageRecord(SLACK, "helper", "concise", "gpt-4o", "U1", 40, 3, 8, reply_id)
        await store.ledger.record_usage(usage)
        click = FeedbackClick("helper", "slack", "T1", "C1", reply_id, "U1", "up", CLICKED)
        await store.feedback.rate(click, lambda bot, key: ("concise", "gpt-4o"))
        assert await store.ledger.claim_event("slack", "Ev01")
        await store.add_messages(DISCORD, [_said("hi"), _said("hello!", role="assistant")])
        await store.link_messages(DISCORD, ["900001", "900002"])
        await store.choose_persona("helper", DISCORD, "pirate", whole_channel=True, chosen_by="U7")
        for thread in range(bulk // 100):
            key = ConversationKey("slack", "T1", "C2", f"1700001000.{thread:04d}")
            await store.add_messages(key, [_said(f"bulk {thread}.{n}") for n in range(100)])
        (forgotten_id,) = await store.add_messages(FORGOTTEN, [_said("forget me")])
        await store.forget(FORGOTTEN)
    return Seeded(reply_id, forgotten_id)


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row, every column, in a canonical order; read with plain sqlite3."""
    with closing(sqlite3.connect(path)) as conn:
        columns = sorted(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return sorted((tuple(row) for row in rows), key=repr)


async def postgres_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    """The same, on PostgreSQL, on a connection of its own."""
    conn = await asyncpg.connect(url)
    try:
        described = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table
        )
        columns = sorted(str(row[0]) for row in described)
        rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM {table}")
    finally:
        await conn.close()
    return sorted((tuple(row) for row in rows), key=repr)


async def assert_same_rows(path: Path, url: str) -> None:
    for table in TABLES:
        source = sqlite_rows(path, table)
        assert source, f"the seeded store has no {table}"
        assert await postgres_rows(url, table) == source, table
