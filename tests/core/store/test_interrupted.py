"""Replies a killed process left "in progress" are marked interrupted when Parley starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.store import Store
from tests.core.store.backends import PostgresDb, SqliteDb
from tests.core.store.conftest import KEY
from tests.core.store.rows import add_message


async def reply(store: Store, bot: str, content: str, *, error: str = "") -> int:
    return await add_message(
        store,
        KEY,
        role="assistant",
        author_id=bot,
        author_name=bot,
        content=content,
        status="partial",
        token_count=0,
        error=error,
    )


async def test_only_this_runs_bots_unfinished_replies_are_marked(store: Store) -> None:
    empty = await reply(store, "team", "")
    begun = await reply(store, "team", "half a rep")
    cut = await reply(store, "team", "cut", error="the provider cut it")
    console = await reply(store, "console-bot", "")
    await store.recent_messages(KEY, 10)  # cached: the marks must show through the cache
    marked = await store.mark_interrupted(["team"], datetime.now(UTC), "interrupted")
    assert marked == 2
    rows = {m.id: (m.status, m.error) for m in (await store.recent_messages(KEY, 10)).messages}
    assert rows[empty] == ("failed", "interrupted")
    assert rows[begun] == ("partial", "interrupted")
    assert rows[cut] == ("partial", "the provider cut it")
    assert rows[console] == ("partial", "")


async def test_replies_begun_after_the_start_are_left_alone(store: Store) -> None:
    await reply(store, "team", "")
    before = datetime.now(UTC) - timedelta(minutes=1)
    assert await store.mark_interrupted(["team"], before, "interrupted") == 0
    assert await store.mark_interrupted([], datetime.now(UTC), "interrupted") == 0


async def test_on_postgres_a_replica_marks_only_the_replies_it_left(postgres_url: str) -> None:
    db = PostgresDb(postgres_url)
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        left_by_a = await reply(a, "team", "")
        live_on_b = await reply(b, "team", "half")
        assert await a.mark_interrupted(["team"], datetime.now(UTC), "interrupted") == 1
        rows = {m.id: (m.status, m.error) for m in (await b.recent_messages(KEY, 10)).messages}
    assert rows[left_by_a] == ("failed", "interrupted")
    assert rows[live_on_b] == ("partial", "")


async def test_on_sqlite_one_process_marks_every_replica_name(db_path: Path) -> None:
    db = SqliteDb(db_path)
    async with await db.open(replica="old-host") as before_rename:
        await reply(before_rename, "team", "")
    async with await db.open(replica="new-host") as after_rename:
        assert await after_rename.mark_interrupted(["team"], datetime.now(UTC), "x") == 1
