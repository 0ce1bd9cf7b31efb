"""The one face both databases show the store's modules: fetch rows, run a statement, run
one statement for many rows. Statements are written once, with `?` placeholders, in the SQL
SQLite and PostgreSQL share; the PostgreSQL side rewrites the few that differ."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import aiosqlite

from core.errors import StoreError

Row = Sequence[Any]


@contextmanager
def failures_as_store_errors(
    action: str, failures: tuple[type[BaseException], ...]
) -> Iterator[None]:
    """Re-raise the database's own `failures` in `action` (and a refused write, and the
    filesystem's or network's OSError) as StoreError, keeping their detail."""
    caught: tuple[type[BaseException], ...] = (*failures, IntegrityViolation, OSError)
    try:
        yield
    except StoreError:
        raise
    except caught as exc:
        raise StoreError(f"{action} failed: {type(exc).__name__}: {exc}") from exc


class IntegrityViolation(Exception):
    """A constraint refused a write (a foreign key to a row another process deleted)."""


class Conn(Protocol):
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Executes one statement; returns the rows it changed."""
        ...

    async def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class SqliteConn:
    """aiosqlite's connection as a Conn: each call is one trip to SQLite's thread."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return list(await self.raw.execute_fetchall(sql, params))
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            async with self.raw.execute(sql, params) as cursor:
                return cursor.rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    async def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            await self.raw.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc
