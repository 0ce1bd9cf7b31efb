"""For tests that count or break SQLite's own statements: the store's SQLite database."""

from __future__ import annotations

import aiosqlite

from core.store import Store
from core.store.database import SqliteDatabase


def sqlite_of(store: Store) -> SqliteDatabase:
    db = store._db
    assert isinstance(db, SqliteDatabase), "this test reads SQLite's own statements"
    return db


def raw_connection(store: Store) -> aiosqlite.Connection:
    conn = sqlite_of(store)._conn
    assert conn is not None, "the store is closed"
    return conn
