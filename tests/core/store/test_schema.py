"""The file itself: migrations and versions, permissions, query plans, corruption."""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store import MIGRATIONS, Store, schema
from core.store import queries as q
from tests.core.store.backends import SqliteDb, StoreDb
from tests.core.store.conftest import KEY, add_user_message, raw_rows


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plan(path: Path, sql: str, params: tuple[object, ...]) -> str:
    rows = raw_rows(path, f"EXPLAIN QUERY PLAN {sql}", params)
    return "\n".join(str(row[-1]) for row in rows)


def set_user_version(path: Path, version: int) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {version:d}")


def wreck_all_but_the_first_page(path: Path) -> None:
    """Leave page 1 (header and schema) intact so the file still opens; damage the rest."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    data = bytearray(path.read_bytes())
    for offset in range(page_size, len(data), page_size):
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


async def test_fresh_database_is_at_the_latest_version(store: Store, db_path: Path) -> None:
    assert len(MIGRATIONS) >= 1
    assert raw_rows(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    tables = {row[0] for row in raw_rows(db_path, "SELECT name FROM sqlite_master")}
    assert {"conversations", "messages", "usage", "processed_events"} <= tables
    assert raw_rows(db_path, "PRAGMA journal_mode") == [("wal",)]


async def test_reopening_changes_nothing(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await add_user_message(store, KEY, "kept")
    before = raw_rows(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    async with await Store.open(db_path) as store:
        assert [m.content for m in (await store.recent_messages(KEY, 5)).messages] == ["kept"]
    assert raw_rows(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == before
    assert raw_rows(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


async def test_a_newer_schema_is_refused(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    future = len(MIGRATIONS) + 6
    set_user_version(db_path, future)
    expected = f"version {future} is newer than this Parley \\(knows {len(MIGRATIONS)}\\)"
    with pytest.raises(StoreError, match=expected):
        await Store.open(db_path)


async def test_a_new_migration_is_applied_on_open(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path):
        pass
    upgraded = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)",))
    monkeypatch.setattr(schema, "MIGRATIONS", upgraded)
    async with await Store.open(db_path):
        pass
    assert raw_rows(db_path, "PRAGMA user_version") == [(len(upgraded),)]
    assert raw_rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'extra'") == [("extra",)]


async def test_a_failing_migration_is_rolled_back(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path):
        pass
    broken = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(StoreError, match="syntax error"):
        await Store.open(db_path)
    assert raw_rows(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert raw_rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'extra'") == []


async def test_files_are_private_to_the_owner(store: Store, db_path: Path) -> None:
    for i in range(20):
        await add_user_message(store, KEY, f"private {i}")
    wal = db_path.with_name(db_path.name + "-wal")
    shm = db_path.with_name(db_path.name + "-shm")
    assert wal.exists()
    assert shm.exists()
    assert mode_of(db_path.parent) == 0o700
    assert (mode_of(db_path), mode_of(wal), mode_of(shm)) == (0o600, 0o600, 0o600)


async def test_an_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "loose.db"
    path.touch()
    os.chmod(path, 0o644)
    async with await Store.open(path) as store:
        await add_user_message(store, KEY, "hi")
        assert mode_of(path) == 0o600
        assert mode_of(path.with_name("loose.db-wal")) == 0o600


async def test_recent_messages_seeks_the_index(store: Store, db_path: Path) -> None:
    await add_user_message(store, KEY, "so the tables exist and hold a row")
    recent = plan(db_path, q.RECENT_MESSAGES_SQL, (1, 11))
    assert "SEARCH messages USING INDEX messages_by_conversation (conversation_id=?)" in recent
    assert "SCAN" not in recent
    assert "TEMP B-TREE" not in recent

    find = plan(db_path, q.FIND_CONVERSATION_SQL, ("a", "b", "c", "d"))
    assert "SEARCH conversations USING" in find
    assert "SCAN" not in find


async def test_pruning_and_usage_reports_use_time_indexes(store: Store, db_path: Path) -> None:
    prune = plan(db_path, q.PRUNE_EVENTS_SQL, ("2025-01-01",))
    assert "USING" in prune
    assert "processed_events_by_time" in prune
    assert "SCAN" not in prune
    by_time = plan(db_path, "SELECT * FROM usage WHERE created_at >= ?", ("2025-01-01",))
    assert "SEARCH usage USING INDEX usage_by_time" in by_time


async def test_budget_reads_seek_time_or_rowid_never_scan(store: Store, db_path: Path) -> None:
    since = plan(db_path, q.SPEND_SINCE_SQL, ("2025-01-01", 10))
    assert "SEARCH usage USING INDEX usage_by_time (created_at>?)" in since
    added = plan(db_path, q.SPEND_ADDED_SQL, (5, 10, "2025-01-01"))
    assert "SEARCH usage USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in added
    assert "SCAN usage" not in since + added


async def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an sqlite database at all\x00\xff" * 512)
    with pytest.raises(StoreError, match="not a database"):
        await Store.open(path)


async def test_damaged_pages_fail_the_integrity_check(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        for i in range(200):
            await add_user_message(store, KEY, f"{i} " + "padding " * 50)
    wreck_all_but_the_first_page(db_path)
    async with await Store.open(db_path) as store:
        assert await store.integrity_ok() is False


@pytest.fixture
def db(db_path: Path) -> StoreDb:
    """SQLite's own file, pragmas and statements: these tests have no PostgreSQL twin."""
    return SqliteDb(db_path)
