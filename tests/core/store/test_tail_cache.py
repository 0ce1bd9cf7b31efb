"""The in-memory tail answers follow-up reads without SQLite and never disagrees with the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import NewMessage, Store
from core.store.arrivals import Claim
from core.types import Role
from tests.core.store.backends import SqliteDb, StoreDb
from tests.core.store.conftest import KEY, raw_rows
from tests.sqlite_internals import raw_connection


def row(text: str, role: Role = "user") -> NewMessage:
    return NewMessage(role, "U1", "Ann", text, "complete", 3)


async def test_a_hot_thread_is_read_from_memory_and_matches_the_file(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.add_messages(KEY, [row("one"), row("two", "assistant")])
        first = await store.recent_messages(KEY, 10)  # loads the tail
        statements: list[str] = []
        # counting SQL needs the connection itself
        await raw_connection(store).set_trace_callback(statements.append)
        (reply,) = await store.add_messages(KEY, [row("three")])
        await store.update_message(reply, content="three!", status="partial", token_count=4)
        cached = await store.recent_messages(KEY, 10)
        assert not any(s.lstrip().upper().startswith("SELECT ID, ROLE") for s in statements)
    async with await Store.open(db_path) as fresh:
        from_file = await fresh.recent_messages(KEY, 10)
    assert [m.content for m in first.messages] == ["one", "two"]
    assert cached == from_file
    assert [(m.content, m.status, m.token_count) for m in cached.messages][-1] == (
        "three!",
        "partial",
        4,
    )


async def test_limits_and_older_messages_are_answered_like_the_file(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.add_messages(KEY, [row(f"m{n}") for n in range(8)])
        assert (await store.recent_messages(KEY, 5)).more_before is True
        small = await store.recent_messages(KEY, 3)
        wide = await store.recent_messages(KEY, 20)
    async with await Store.open(db_path) as fresh:
        assert small == await fresh.recent_messages(KEY, 3)
        assert wide == await fresh.recent_messages(KEY, 20)
    assert [m.content for m in small.messages] == ["m5", "m6", "m7"] and small.more_before
    assert len(wide.messages) == 8 and not wide.more_before


async def test_forget_empties_the_cached_tail(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.add_messages(KEY, [row("secret")])
        await store.recent_messages(KEY, 10)
        assert await store.forget(KEY) == 1
        assert (await store.recent_messages(KEY, 10)).messages == ()
        await store.add_messages(KEY, [row("fresh start")])
        assert [m.content for m in (await store.recent_messages(KEY, 10)).messages] == [
            "fresh start"
        ]


async def test_a_new_conversations_first_message_is_its_history_without_a_query(
    db_path: Path,
) -> None:
    claim = Claim("slack:parley", "Ev1")
    async with await Store.open(db_path) as store:
        statements: list[str] = []
        # counting SQL needs the connection itself
        await raw_connection(store).set_trace_callback(statements.append)
        arrival = await store.receive(KEY, claim, [row("hello"), row("", "assistant")])
        assert arrival is not None
        cached = await store.recent_messages(KEY, 10)
        # The look at other connections' commits runs at most every SYNC_INTERVAL.
        trips = [s for s in statements if s != "PRAGMA data_version"]
    async with await Store.open(db_path) as fresh:
        from_file = await fresh.recent_messages(KEY, 10)
    assert not any(s.lstrip().upper().startswith("SELECT ID, ROLE") for s in statements)
    # BEGIN, the conversation (made and found at once), the claim, the rows, COMMIT.
    assert len(trips) == 5, statements
    assert cached == from_file
    assert [m.id for m in cached.messages] == [arrival.user_id, arrival.reply_id]


async def test_a_stored_conversation_not_in_memory_is_found_not_made_again(
    db_path: Path,
) -> None:
    async with await Store.open(db_path) as store:
        await store.add_messages(KEY, [row("one")])
    async with await Store.open(db_path) as reopened:
        arrival = await reopened.receive(KEY, None, [row("two"), row("", "assistant")])
        assert arrival is not None
        history = await reopened.recent_messages(KEY, 10)
    async with await Store.open(db_path) as fresh:
        assert history == await fresh.recent_messages(KEY, 10)
    assert [m.content for m in history.messages] == ["one", "two", ""]
    assert raw_rows(db_path, "SELECT count(*) FROM conversations") == [(1,)]


@pytest.fixture
def db(db_path: Path) -> StoreDb:
    """SQLite's own file, pragmas and statements: these tests have no PostgreSQL twin."""
    return SqliteDb(db_path)
