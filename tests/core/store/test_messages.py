"""Messages: round trips, updates, history windows, isolation between keys, forgetting."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store import History, NewMessage, Store
from core.types import ConversationKey
from tests.core.store.backends import StoreDb
from tests.core.store.conftest import KEY, add_user_message
from tests.core.store.rows import add_message
from tests.sqlite_internals import sqlite_of

FIXED = datetime(2025, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)


async def test_round_trip_keeps_every_field(db: StoreDb) -> None:
    async with await db.open(clock=lambda: FIXED) as store:
        message_id = await add_message(
            store,
            KEY,
            role="assistant",
            author_id="B1",
            author_name="Parley",
            content="Hello, *world* — ünïcode ✓",
            status="partial",
            token_count=7,
            platform_message_id="1700000000.000200",
            error="cut off",
        )
        history = await store.recent_messages(KEY, 10)
    assert history.more_before is False
    (stored,) = history.messages
    assert stored.id == message_id
    assert stored.role == "assistant"
    assert (stored.author_id, stored.author_name) == ("B1", "Parley")
    assert stored.content == "Hello, *world* — ünïcode ✓"
    assert (stored.status, stored.token_count, stored.error) == ("partial", 7, "cut off")
    assert stored.platform_message_id == "1700000000.000200"
    assert stored.created_at == FIXED
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_created_at_is_utc_even_from_another_zone(db: StoreDb) -> None:
    elsewhere = FIXED.astimezone(timezone(timedelta(hours=5)))
    async with await db.open(clock=lambda: elsewhere) as store:
        await add_user_message(store, KEY, "hi")
        (stored,) = (await store.recent_messages(KEY, 1)).messages
    assert stored.created_at == FIXED
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_update_message_replaces_content_and_keeps_platform_id(store: Store) -> None:
    message_id = await add_message(
        store,
        KEY,
        role="assistant",
        author_id="B1",
        author_name="Parley",
        content="",
        status="partial",
        token_count=0,
        platform_message_id="ts-1",
    )
    await store.update_message(message_id, content="done", status="complete", token_count=2)
    (stored,) = (await store.recent_messages(KEY, 5)).messages
    assert (stored.content, stored.status, stored.token_count) == ("done", "complete", 2)
    assert stored.platform_message_id == "ts-1"

    await store.update_message(
        message_id,
        content="done",
        status="failed",
        token_count=2,
        error="timeout",
        platform_message_id="ts-2",
    )
    (stored,) = (await store.recent_messages(KEY, 5)).messages
    assert (stored.status, stored.error) == ("failed", "timeout")
    assert stored.platform_message_id == "ts-2"


async def test_update_of_unknown_message_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no message 999"):
        await store.update_message(999, content="x", status="complete", token_count=1)


async def test_recent_messages_limit_order_and_more_before(store: Store) -> None:
    ids = [await add_user_message(store, KEY, f"m{i}") for i in range(5)]

    last_three = await store.recent_messages(KEY, 3)
    assert [m.id for m in last_three.messages] == ids[2:]
    assert [m.content for m in last_three.messages] == ["m2", "m3", "m4"]
    assert last_three.more_before is True

    exactly_all = await store.recent_messages(KEY, 5)
    assert [m.id for m in exactly_all.messages] == ids
    assert exactly_all.more_before is False

    assert (await store.recent_messages(KEY, 50)).more_before is False
    assert await store.recent_messages(KEY, 0) == History(messages=(), more_before=True)


async def test_negative_limit_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.recent_messages(KEY, -1)


async def test_unknown_key_is_empty_and_creates_nothing(store: Store, db: StoreDb) -> None:
    assert await store.recent_messages(KEY, 10) == History(messages=(), more_before=False)
    assert await store.forget(KEY) == 0
    assert await db.rows("SELECT COUNT(*) FROM conversations") == [(0,)]


async def test_keys_differing_in_one_component_never_share_messages(store: Store) -> None:
    neighbours = [
        replace(KEY, platform="discord"),
        replace(KEY, workspace="T2"),
        replace(KEY, channel="C2"),
        replace(KEY, thread="1700000000.000999"),
    ]
    keys = [KEY, *neighbours]
    for key in keys:
        await add_user_message(store, key, f"secret of {key}")
    for key in keys:
        history = await store.recent_messages(key, 100)
        assert [m.content for m in history.messages] == [f"secret of {key}"]
    # Forgetting one conversation leaves its neighbours alone.
    assert await store.forget(KEY) == 1
    assert (await store.recent_messages(KEY, 100)).messages == ()
    for key in neighbours:
        assert len((await store.recent_messages(key, 100)).messages) == 1


async def test_forget_counts_and_the_conversation_carries_on(store: Store) -> None:
    for i in range(3):
        await add_user_message(store, KEY, f"m{i}")
    assert await store.forget(KEY) == 3
    assert await store.forget(KEY) == 0
    new_id = await add_user_message(store, KEY, "fresh start")
    assert [m.id for m in (await store.recent_messages(KEY, 10)).messages] == [new_id]


async def test_ids_are_not_reused_after_forget(store: Store) -> None:
    first = await add_user_message(store, KEY, "a")
    await store.forget(KEY)
    assert await add_user_message(store, KEY, "b") > first


async def test_concurrent_writers_all_land(store: Store) -> None:
    keys = [replace(KEY, thread=str(n)) for n in range(5)]
    writes = [add_user_message(store, key, f"{key.thread}-{i}") for key in keys for i in range(8)]
    ids = await asyncio.gather(*writes)
    assert len(set(ids)) == len(writes)
    for key in keys:
        assert len((await store.recent_messages(key, 100)).messages) == 8


async def test_a_rejected_write_leaves_no_conversation_behind(store: Store, db: StoreDb) -> None:
    with pytest.raises(StoreError, match=r"(?i)check constraint"):
        await add_message(
            store,
            KEY,
            role="user",
            author_id="U1",
            author_name="Ada",
            content="x",
            status="bogus",  # type: ignore[arg-type]  # the schema must refuse what mypy would
            token_count=1,
        )
    assert await db.rows("SELECT COUNT(*) FROM conversations") == [(0,)]
    other = replace(KEY, channel="C9")
    await add_user_message(store, other, "elsewhere")
    await add_user_message(store, KEY, "here")
    assert [m.content for m in (await store.recent_messages(KEY, 5)).messages] == ["here"]


async def test_a_closed_store_raises_store_error(db: StoreDb) -> None:
    store = await db.open()
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        await add_user_message(store, KEY, "too late")


async def test_a_hot_conversation_costs_one_query_per_read(sqlite_store: Store) -> None:
    store = sqlite_store
    await add_user_message(store, KEY, "warm the cache")
    statements: list[str] = []
    # Reaching into the connection is the only way to count what SQLite is asked to run.
    conn = sqlite_of(store)._conn
    assert conn is not None
    await conn.set_trace_callback(statements.append)
    await store.recent_messages(KEY, 10)
    await add_user_message(store, KEY, "second turn")
    # execute_insert reads last_insert_rowid() in the same trip; that is not a lookup.
    selects = [
        s
        for s in statements
        if s.lstrip().upper().startswith("SELECT") and "last_insert_rowid" not in s
    ]
    assert len(selects) == 1
    assert "conversations" not in " ".join(statements)


async def test_add_messages_stores_a_batch_in_order(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "batch.db") as store:
        key = ConversationKey("slack", "T1", "C1", "1.1")
        batch = [
            NewMessage("user", "U1", "Ann", "first", "complete", 1, platform_message_id="1.1"),
            NewMessage("assistant", "B", "bot", "second", "complete", 2),
        ]
        ids = await store.add_messages(key, batch)
        history = await store.recent_messages(key, 10)
    assert [m.id for m in history.messages] == ids
    assert [(m.content, m.platform_message_id) for m in history.messages] == [
        ("first", "1.1"),
        ("second", ""),
    ]
