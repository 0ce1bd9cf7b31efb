"""Opening the SQLite file safely, and turning sqlite3 failures into StoreError."""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import AbstractContextManager
from pathlib import Path

import aiosqlite

from core.errors import StoreError
from core.store.schema import PRAGMAS, migrate
from core.store.sql import failures_as_store_errors

_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def translated(action: str) -> AbstractContextManager[None]:
    """Re-raise any sqlite3 or filesystem failure in `action` as StoreError, keeping detail."""
    return failures_as_store_errors(action, (sqlite3.Error,))


def is_corruption(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _CORRUPT_CODES


def prepare_file(path: Path) -> None:
    """Create the directory (0700) and the file (0600) before SQLite touches them.

    SQLite gives the -wal and -shm files the database file's mode, so conversations stay
    readable by the owner only as long as the main file is.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # An existing file may have been created looser (by hand, or under another umask).
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


async def _configure(conn: aiosqlite.Connection) -> None:
    # busy_timeout first: switching to WAL needs a lock another process may hold.
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    mode = str(row[0]).lower() if row is not None else ""
    if mode != "wal":
        raise StoreError(f"could not switch the database to WAL mode (got {mode!r})")
    await migrate(conn)


async def connect(path: Path) -> aiosqlite.Connection:
    """A connection in autocommit mode with WAL, pragmas set and the schema up to date."""
    with translated(f"opening the database {path}"):
        prepare_file(path)
        # isolation_level=None: the store issues BEGIN/COMMIT itself, nothing is implicit.
        conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        with translated(f"preparing the database {path}"):
            await _configure(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


# About what one turn writes (a message, a long reply, its usage row).
PROBE_BYTES = 64 * 1024


def probe_writable(path: Path, timeout: float) -> str | None:
    """Commits a write of a turn's size on its own connection, then removes it: None if it
    could, else why not.

    Committed, not rolled back: a rolled-back write never leaves SQLite's page cache, so it
    succeeds on a full disk where every real write fails. Blocking (run it in a thread).
    `timeout` bounds the wait for another writer's lock, so a stuck writer shows up at once;
    the engine's connection and data are never touched.
    """
    try:
        # mode=rw: a missing database is a failure to report, not a file to create.
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=timeout, isolation_level=None
        )
        try:
            _write_and_remove(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _write_and_remove(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        # One left by a probe whose removal failed is replaced, never added to.
        conn.execute("DROP TABLE IF EXISTS parley_health_probe")
        conn.execute("CREATE TABLE parley_health_probe (written BLOB)")
        conn.execute("INSERT INTO parley_health_probe VALUES (zeroblob(?))", (PROBE_BYTES,))
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    conn.execute("DROP TABLE parley_health_probe")
