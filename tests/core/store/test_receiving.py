"""Deliveries received together share one transaction, and each keeps its own guarantees:
stored once, a redelivery told apart, a bad one failing alone, a cancelled one not written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store import NewMessage, Store
from core.store.arrivals import Arrival, Claim
from core.types import ConversationKey
from tests.core.store.backends import SqliteDb, StoreDb
from tests.sqlite_internals import raw_connection, sqlite_of

BURST = 20


def key(n: int) -> ConversationKey:
    return ConversationKey("slack", "T1", "C1", f"17000000{n:02d}.000100")


def rows(text: str, tokens: int = 3) -> list[NewMessage]:
    return [
        NewMessage("user", "U1", "Ann", text, "complete", tokens, f"ts-{text}"),
        NewMessage("assistant", "parley", "parley", "", "partial", 0),
    ]


def claim(n: int) -> Claim:
    return Claim("slack:parley", f"Ev{n}")


async def traced(store: Store) -> list[str]:
    statements: list[str] = []
    # counting SQL needs the connection itself
    await raw_connection(store).set_trace_callback(statements.append)
    return statements


async def test_a_burst_is_received_in_one_transaction_and_matches_the_file(db_path: Path) -> None:
    db = SqliteDb(db_path)  # SQLite's own statements
    async with await db.open() as store:
        statements = await traced(store)
        arrivals = await asyncio.gather(
            *(store.receive(key(n), claim(n), rows(f"m{n}")) for n in range(BURST))
        )
        histories = [await store.recent_messages(key(n), 10) for n in range(BURST)]
    assert all(isinstance(a, Arrival) and a.first for a in arrivals)
    # The first delivery's batch may hold only itself; every other one is in the second.
    assert statements.count("BEGIN IMMEDIATE") <= 2, statements
    async with await db.open() as fresh:
        for n in range(BURST):
            assert histories[n] == await fresh.recent_messages(key(n), 10)
            assert [m.content for m in histories[n].messages] == [f"m{n}", ""]
    assert await db.rows("SELECT count(*) FROM processed_events") == [(BURST,)]


async def test_a_redelivery_in_the_same_batch_is_told_apart(db: StoreDb) -> None:
    async with await db.open() as store:
        first, again = await asyncio.gather(
            store.receive(key(1), claim(1), rows("hello")),
            store.receive(key(1), claim(1), rows("hello")),
        )
    assert first is not None and again is not None
    assert first.first and not again.first
    assert (again.user_id, again.reply_id) == (first.user_id, first.reply_id)
    assert await db.rows("SELECT count(*) FROM messages") == [(2,)]


async def test_one_bad_delivery_fails_alone(db: StoreDb) -> None:
    async with await db.open() as store:
        outcomes = await asyncio.gather(
            store.receive(key(1), claim(1), rows("fine")),
            store.receive(key(2), claim(2), rows("broken", tokens=-1)),  # breaks a CHECK
            store.receive(key(3), claim(3), rows("fine too")),
            return_exceptions=True,
        )
        # The bad one's claim went with its rows: a redelivery is a first delivery.
        retried = await store.receive(key(2), claim(2), rows("mended"))
    assert isinstance(outcomes[0], Arrival) and isinstance(outcomes[2], Arrival)
    assert isinstance(outcomes[1], StoreError)
    assert retried is not None and retried.first
    contents = await db.rows("SELECT content FROM messages WHERE role = 'user' ORDER BY id")
    assert sorted(c for (c,) in contents) == ["fine", "fine too", "mended"]


async def test_a_delivery_cancelled_before_its_batch_is_written_leaves_nothing(
    db_path: Path,
) -> None:
    db = SqliteDb(db_path)  # SQLite's own statements
    async with await db.open() as store:
        # Another write holds the connection, so both deliveries queue behind it.
        async with sqlite_of(store)._lock:
            kept = asyncio.create_task(store.receive(key(1), claim(1), rows("kept")))
            cut = asyncio.create_task(store.receive(key(2), claim(2), rows("cut")))
            await asyncio.sleep(0)  # a yield, not a wait: each task queues on its first step
            assert len(store._receipts._queued) == 2
            cut.cancel()
        assert await kept is not None
        with pytest.raises(asyncio.CancelledError):
            await cut
        assert await store.ledger.claim_event("slack:parley", "Ev2")  # never claimed
    contents = await db.rows("SELECT content FROM messages WHERE role = 'user'")
    assert contents == [("kept",)]


async def test_closing_the_store_waits_for_a_batch_under_way(db: StoreDb) -> None:
    store = await db.open()
    receiving = asyncio.create_task(store.receive(key(1), claim(1), rows("late")))
    await asyncio.sleep(0)  # the task queues its delivery on its first step
    assert store._receipts._queued
    await store.close()
    assert await receiving is not None
    assert await db.rows("SELECT content FROM messages WHERE role = 'user'") == [("late",)]
