"""An asyncpg connection as the store's Conn."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import asyncpg

from core.store.postgres.dialect import postgres_sql
from core.store.sql import IntegrityViolation, Row


def _changed(status: str) -> int:
    """Rows a command changed, from its status ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresConn:
    def __init__(self, conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        self.raw = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            # A Record reads by index like a tuple.
            return cast(list[Row], await self.raw.fetch(postgres_sql(sql), *params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityViolation(str(exc)) from exc

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return _changed(await self.raw.execute(postgres_sql(sql), *params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityViolation(str(exc)) from exc

    async def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        try:
            await self.raw.executemany(postgres_sql(sql), rows)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityViolation(str(exc)) from exc
