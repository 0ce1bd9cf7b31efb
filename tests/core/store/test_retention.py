"""Retention and forgetting: exactly the old or chosen rows go, and no cache remembers them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.store import FORGOTTEN_USER, Erased, Place, Store, UsageRecord
from core.store import queries as q
from core.types import ConversationKey
from tests.core.store.backends import SqliteDb, StoreDb
from tests.core.store.conftest import KEY, add_user_message
from tests.core.store.rows import add_message
from tests.fakes.waiting import wait_for_state
from tests.sqlite_internals import sqlite_of

START = datetime(2025, 1, 1, tzinfo=UTC)
OTHER = ConversationKey("slack", "T1", "C1", "1700000000.000200")
ELSEWHERE = ConversationKey("slack", "T2", "C9", "1700000000.000300")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def contents(db: StoreDb) -> list[str]:
    return [str(row[0]) for row in await db.rows("SELECT content FROM messages ORDER BY id")]


async def test_prune_deletes_exactly_the_old_messages_and_emptied_conversations(
    db: StoreDb,
) -> None:
    clock = Clock()
    async with await db.open(clock=clock) as store:
        await add_user_message(store, KEY, "old in KEY")
        await add_user_message(store, OTHER, "old in OTHER")
        await store.link_messages(OTHER, ["P1"])
        await store.choose_persona("b", OTHER, "pirate", whole_channel=False, chosen_by="U1")
        await store.choose_persona("b", OTHER, "pirate", whole_channel=True, chosen_by="U1")
        clock.now = START + timedelta(days=10)
        await add_user_message(store, KEY, "exactly at the cutoff")
        clock.now = START + timedelta(days=11)
        await add_user_message(store, KEY, "new in KEY")
        # Warm the tail cache: pruning must not leave the old message in it.
        assert len((await store.recent_messages(KEY, 10)).messages) == 3

        clock.now = START + timedelta(days=15)
        assert await store.prune_messages(timedelta(days=5)) == Erased(2, 1)

        history = await store.recent_messages(KEY, 10)
        assert [m.content for m in history.messages] == ["exactly at the cutoff", "new in KEY"]
        assert not history.more_before
        assert await store.knows(OTHER) is False
        assert await store.linked_conversation("slack", "P1") is None
        # The thread's choice went with it; the channel's is a setting and stays.
        assert store.chosen_persona("b", OTHER) == "pirate"
        assert await db.rows("SELECT thread FROM persona_choices") == [("",)]
        assert await store.prune_messages(timedelta(days=5)) == Erased(0, 0)
    assert await contents(db) == ["exactly at the cutoff", "new in KEY"]


async def test_prune_works_in_batches(db: StoreDb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(q, "PRUNE_BATCH", 2)
    clock = Clock()
    async with await db.open(clock=clock) as store:
        for n in range(5):
            await add_user_message(store, KEY, f"old {n}")
        clock.now = START + timedelta(days=2)
        await add_user_message(store, KEY, "new")
        assert await store.prune_messages(timedelta(days=1)) == Erased(5, 0)
    assert await contents(db) == ["new"]


async def test_usage_and_events_are_pruned_by_age_but_command_markers_stay(
    db: StoreDb,
) -> None:
    clock = Clock()
    async with await db.open(clock=clock) as store:
        await store.ledger.record_usage(UsageRecord(KEY, "b", "p", "m", "U1", 10, 1, 0))
        await store.ledger.claim_event("slack:b", "old")
        await store.ledger.claim_event("discord-commands:b:global", "abc123")
        clock.now = START + timedelta(days=30)
        await store.ledger.record_usage(UsageRecord(KEY, "b", "p", "m", "U1", 20, 2, 0))
        await store.ledger.claim_event("slack:b", "new")

        assert await store.ledger.prune_usage(timedelta(days=10)) == 1
        assert await store.ledger.prune_events(timedelta(days=7), keep=("discord-commands:",)) == 1
        assert await store.ledger.event_seen("discord-commands:b:global", "abc123")
        assert await store.ledger.event_seen("slack:b", "new")
        assert not await store.ledger.event_seen("slack:b", "old")
    assert await db.rows("SELECT prompt_tokens FROM usage") == [(20,)]


async def test_a_forget_by_another_process_reaches_a_warm_cache(db: StoreDb) -> None:
    async with await db.open() as serving, await db.open() as admin:
        await add_user_message(serving, KEY, "remember me")
        assert len((await serving.recent_messages(KEY, 10)).messages) == 1
        assert await serving.knows(KEY)

        assert await admin.forget_place(Place.of(KEY)) == Erased(1, 1)

        async def forgotten() -> bool:
            # The serving store looks for other connections' commits every SYNC_INTERVAL s.
            return (await serving.recent_messages(KEY, 10)).messages == ()

        await wait_for_state(forgotten, message="the warm cache still holds the message")
        assert await serving.knows(KEY) is False
        # The cached conversation id is gone too: a new message starts a new conversation.
        await add_user_message(serving, KEY, "fresh start")
        assert [m.content for m in (await serving.recent_messages(KEY, 10)).messages] == [
            "fresh start"
        ]
    assert await contents(db) == ["fresh start"]


async def test_forget_a_channel_or_workspace_keeps_everything_else(store: Store) -> None:
    for key in (KEY, OTHER, ELSEWHERE):
        await add_user_message(store, key, f"in {key}")
    channel = Place("slack", "T1", "C1")
    assert await store.forget_place(channel, dry_run=True) == Erased(2, 2)
    assert await store.knows(KEY)  # a dry run deletes nothing
    assert await store.forget_place(channel) == Erased(2, 2)
    assert not await store.knows(KEY) and not await store.knows(OTHER)
    assert await store.knows(ELSEWHERE)
    assert await store.forget_place(Place("slack", "T2")) == Erased(1, 1)
    assert not await store.knows(ELSEWHERE)


async def test_forget_a_user_deletes_only_what_they_wrote(store: Store, db: StoreDb) -> None:
    await add_user_message(store, KEY, "Ada in KEY")  # author U1
    await add_message(store,
        KEY, role="user", author_id="U2", author_name="Bo", content="Bo in KEY",
        status="complete", token_count=1,
    )  # fmt: skip
    await add_user_message(store, OTHER, "Ada alone in OTHER")
    await store.ledger.record_usage(UsageRecord(KEY, "b", "p", "m", "U1", 10, 1, 0))
    await store.ledger.record_usage(UsageRecord(KEY, "b", "p", "m", "U2", 20, 2, 0))
    await store.recent_messages(KEY, 10)  # warm

    assert await store.forget_user("U1", dry_run=True) == Erased(2, 1, 1)
    assert await store.forget_user("U1") == Erased(2, 1, 1)

    assert [m.content for m in (await store.recent_messages(KEY, 10)).messages] == ["Bo in KEY"]
    assert not await store.knows(OTHER)
    usage = await db.rows("SELECT user_id, prompt_tokens FROM usage ORDER BY id")
    assert usage == [(FORGOTTEN_USER, 10), ("U2", 20)]
    assert await store.forget_user("U1") == Erased(0, 0, 0)


async def test_transcript_lists_every_message_with_usage(store: Store) -> None:
    assert await store.transcript(KEY) is None
    await add_user_message(store, KEY, "question")
    reply = await add_message(store,
        KEY, role="assistant", author_id="bot", author_name="parley", content="answer",
        status="complete", token_count=2,
    )  # fmt: skip
    await store.ledger.record_usage(
        UsageRecord(KEY, "b", "p", "m", "U1", 30, 4, 0, message_id=reply)
    )
    exported = await store.transcript(KEY)
    assert exported is not None
    assert [(e.message.content, e.prompt_tokens, e.completion_tokens) for e in exported] == [
        ("question", None, None),
        ("answer", 30, 4),
    ]
    (summary,) = await store.recent_conversations(10)
    assert (summary.key, summary.messages) == (KEY, 2)


async def test_a_message_right_after_another_process_forgot_its_thread_is_kept(
    db: StoreDb,
) -> None:
    async with await db.open() as serving, await db.open() as admin:
        await add_user_message(serving, KEY, "before")
        assert await admin.forget_place(Place.of(KEY)) == Erased(1, 1)

        # No pause: the serving store still holds the deleted conversation's id.
        await add_user_message(serving, KEY, "after")

        assert [m.content for m in (await serving.recent_messages(KEY, 10)).messages] == ["after"]
    assert await db.rows("SELECT content FROM messages") == [("after",)]


async def test_a_prune_that_deletes_nothing_keeps_hot_threads_in_memory(db_path: Path) -> None:
    db = SqliteDb(db_path)  # SQLite's own statements
    async with await db.open() as store:
        await add_user_message(store, KEY, "fresh")
        await store.recent_messages(KEY, 10)  # the tail is cached now
        assert await store.prune_messages(timedelta(days=90)) == Erased(0, 0)
        statements: list[str] = []
        conn = sqlite_of(store)._conn  # counting SQL needs the connection itself
        assert conn is not None
        await conn.set_trace_callback(statements.append)
        assert [m.content for m in (await store.recent_messages(KEY, 10)).messages] == ["fresh"]
        assert not any(s.lstrip().upper().startswith("SELECT ID, ROLE") for s in statements)
