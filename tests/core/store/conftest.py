"""Fixtures for the store tests: a fresh database per test and raw access to its file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from core.store import Store
from core.types import ConversationKey
from tests.core.store.backends import PostgresDb, SqliteDb, StoreDb
from tests.core.store.rows import add_message

KEY = ConversationKey(platform="slack", workspace="T1", channel="C1", thread="1700000000.000100")


def raw_rows(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the file with plain sqlite3, bypassing the store under test."""
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "parley.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, db_path: Path) -> StoreDb:
    """Each store test runs on both databases."""
    if request.param == "sqlite":
        return SqliteDb(db_path)
    return PostgresDb(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[Store]:
    """For tests of SQLite's own statements and caches."""
    async with await Store.open(db_path) as opened:
        yield opened


@pytest.fixture
async def store(db: StoreDb) -> AsyncIterator[Store]:
    opened = await db.open()
    try:
        yield opened
    finally:
        await opened.close()


async def add_user_message(store: Store, key: ConversationKey, content: str) -> int:
    return await add_message(
        store,
        key,
        role="user",
        author_id="U1",
        author_name="Ada",
        content=content,
        status="complete",
        token_count=len(content),
    )
