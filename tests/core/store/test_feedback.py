"""Feedback in the store: once per user and reply, changed minds, places, and the v5 upgrade."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.store import MIGRATIONS, Store, UsageRecord, schema
from core.types import ConversationKey, FeedbackClick, Rating
from tests.core.store.backends import SqliteDb, StoreDb
from tests.core.store.conftest import KEY
from tests.core.store.rows import add_message

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def never_asked(bot: str, key: ConversationKey) -> tuple[str, str]:
    raise AssertionError("the usage row names the persona")


def now_answering(bot: str, key: ConversationKey) -> tuple[str, str]:
    return ("pirate", "gpt-4o-mini")


def click(
    reply_id: int, rating: Rating, *, user: str = "U1", at: datetime = T0, channel: str = "C1"
) -> FeedbackClick:
    return FeedbackClick("helper", "slack", "T1", channel, reply_id, user, rating, at)


async def reply_with_usage(store: Store, key: ConversationKey = KEY) -> int:
    reply = await add_message(
        store, key, role="assistant", author_id="helper", author_name="helper",
        content="an answer", status="complete", token_count=3,
    )  # fmt: skip
    usage = UsageRecord(key, "helper", "default", "gpt-4o", "U1", 10, 3, 0, message_id=reply)
    await store.ledger.record_usage(usage)
    return reply


async def test_a_click_is_stored_once_and_a_changed_mind_replaces_it(store: Store) -> None:
    reply = await reply_with_usage(store)
    book = store.feedback
    assert await book.rate(click(reply, "up"), never_asked) == ("stored", "default")
    assert await book.rate(click(reply, "up"), never_asked) == ("unchanged", "default")
    later = T0 + timedelta(seconds=5)
    assert await book.rate(click(reply, "down", at=later), never_asked) == ("changed", "default")
    # The first click delivered again after the change: the newer rating stands.
    assert await book.rate(click(reply, "up"), never_asked) == ("stale", "default")
    assert await book.rate(click(reply, "up", user="U2"), never_asked) == ("stored", "default")
    rows = await book.rows(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(r.bot, r.persona, r.model, r.up, r.down) for r in rows] == [
        ("helper", "default", "gpt-4o", 1, 1)
    ]


async def test_a_reply_not_stored_where_clicked_is_unknown(store: Store) -> None:
    reply = await reply_with_usage(store)
    user_message = await add_message(
        store, KEY, role="user", author_id="U1", author_name="Ada",
        content="a question", status="complete", token_count=3,
    )  # fmt: skip
    book = store.feedback
    assert await book.rate(click(reply + 1000, "up"), never_asked) == ("unknown", "")
    assert await book.rate(click(user_message, "up"), never_asked) == ("unknown", "")
    assert await book.rate(click(reply, "up", channel="C2"), never_asked) == ("unknown", "")
    other_bot = FeedbackClick("other", "slack", "T1", "C1", reply, "U1", "up", T0)
    assert await book.rate(other_bot, never_asked) == ("unknown", "")
    assert await book.rows(T0 - timedelta(days=1), T0 + timedelta(days=1)) == []


async def test_a_reply_without_usage_yet_takes_the_persona_answering_now(store: Store) -> None:
    reply = await add_message(
        store, KEY, role="assistant", author_id="helper", author_name="helper",
        content="", status="partial", token_count=0,
    )  # fmt: skip
    assert await store.feedback.rate(click(reply, "down"), now_answering) == ("stored", "pirate")
    (row,) = await store.feedback.rows(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert (row.persona, row.model, row.down) == ("pirate", "gpt-4o-mini", 1)


async def test_export_carries_ratings_and_forgetting_the_user_keeps_the_count(
    store: Store, db: StoreDb
) -> None:
    reply = await reply_with_usage(store)
    await store.feedback.rate(click(reply, "up"), never_asked)
    exported = await store.transcript(KEY)
    assert exported is not None
    assert [(f.user_id, f.rating) for f in exported[0].feedback] == [("U1", "up")]
    assert (await store.forget_user("U1", dry_run=True)).ratings == 1
    assert (await store.forget_user("U1")).ratings == 1
    ((user, rating),) = await db.rows("SELECT user_id, rating FROM feedback")
    assert user.startswith("forgotten-") and rating == "up"


async def test_a_version_4_database_upgrades_and_keeps_its_rows(db_path: Path) -> None:
    db = SqliteDb(db_path)
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        for migration in schema.MIGRATIONS[:4]:
            for statement in migration:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 4")
        conn.execute(
            "INSERT INTO conversations VALUES (1, 'slack', 'T1', 'C1', '1700000000.000100', ?)",
            (T0.isoformat(),),
        )
        conn.execute(
            "INSERT INTO messages (conversation_id, role, author_id, author_name, content,"
            " status, token_count, created_at) VALUES (1, 'assistant', 'helper', 'helper',"
            " 'old answer', 'complete', 2, ?)",
            (T0.isoformat(),),
        )
    async with await db.open() as store:
        assert await store.feedback.rate(click(1, "up"), now_answering) == ("stored", "pirate")
    assert await db.rows("PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert len(MIGRATIONS) == 7
    assert await db.rows("SELECT content FROM messages") == [("old answer",)]
    assert await db.rows("SELECT message_id, rating FROM feedback") == [(1, "up")]


async def test_ratings_are_pruned_with_usage_by_age(store: Store) -> None:
    reply = await reply_with_usage(store)
    old = datetime.now(UTC) - timedelta(days=60)
    await store.feedback.rate(click(reply, "up", at=old), never_asked)
    await store.feedback.rate(click(reply, "up", user="U2", at=datetime.now(UTC)), never_asked)
    assert await store.feedback.prune(timedelta(days=30)) == 1
    (row,) = await store.feedback.rows(old - timedelta(days=1), datetime.now(UTC))
    assert row.up == 1
