"""The copy itself: each table in key order, a batch per PostgreSQL transaction, so a run
that stops part way is taken up by the next without writing any row twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiosqlite
import asyncpg

from cli.store_copy_tables import Table
from core.errors import StoreError

DEFAULT_BATCH = 5000
# Long replies and tool results make some rows large: a batch also ends at this many
# characters, so it stays a few tens of MB in memory and on the wire, whatever rows it has.
MAX_BATCH_CHARS = 16_000_000
_FETCH_ROWS = 500


class CopyProgress(Protocol):
    """Hears how far the copy is: the terminal's bar, plain lines, or a test."""

    def table_started(self, table: str, total: int, present: int) -> None: ...

    def batch_copied(self, table: str, added: int, present: int) -> None: ...

    def table_done(self, table: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int


async def copy_tables(
    source: aiosqlite.Connection,
    target: asyncpg.Connection,
    tables: Sequence[Table],
    progress: CopyProgress,
    batch_size: int = DEFAULT_BATCH,
) -> None:
    for table in tables:
        await _copy_table(source, target, table, progress, batch_size)
    await _advance_ids(source, target, tables)


async def _copy_table(
    source: aiosqlite.Connection,
    target: asyncpg.Connection,
    table: Table,
    progress: CopyProgress,
    batch_size: int,
) -> None:
    total = await _source_value(source, f"SELECT count(*) FROM {table.name}")
    start_id = await _resume_point(source, target, table)
    skipped = 0
    if start_id is not None:
        below = f"SELECT count(*) FROM {table.name} WHERE id < $1"
        skipped = await target.fetchval(below, start_id)
    progress.table_started(table.name, total, skipped)
    params = () if start_id is None else (start_id,)
    async with source.execute(table.source_rows_sql(from_id=start_id is not None), params) as rows:
        async for batch in _batches(rows, batch_size):
            added, present = await _write_batch(target, table, batch)
            progress.batch_copied(table.name, added, present)
    progress.table_done(table.name)


async def _batches(rows: aiosqlite.Cursor, batch_size: int) -> AsyncIterator[list[Sequence[Any]]]:
    """The rows in order, `batch_size` at a time, or fewer once they hold MAX_BATCH_CHARS."""
    batch: list[Sequence[Any]] = []
    chars = 0
    while fetched := await rows.fetchmany(min(batch_size, _FETCH_ROWS)):
        for row in fetched:
            batch.append(row)
            chars += sum(len(value) for value in row if isinstance(value, str))
            if len(batch) >= batch_size or chars >= MAX_BATCH_CHARS:
                yield batch
                batch, chars = [], 0
    if batch:
        yield batch


async def _resume_point(
    source: aiosqlite.Connection, target: asyncpg.Connection, table: Table
) -> int | None:
    """Where a numbered table takes up again: at the highest id already copied (which the
    first batch compares like any other), once the ids below it are as many as the source's.

    Batches commit in id order, so an earlier run leaves a prefix; a target that holds
    something else shows it here, before anything is written."""
    if not table.numbered:
        return None
    highest = await target.fetchval(f"SELECT max(id) FROM {table.name}")
    if highest is None:
        return None
    below_sql = f"SELECT count(*) FROM {table.name} WHERE id < ?"
    there = await target.fetchval(below_sql.replace("?", "$1"), highest)
    expected = await _source_value(source, below_sql, (highest,))
    if there != expected:
        raise StoreError(
            f"the target's {table.name} are not a copy of this file: {there} rows below id "
            f"{highest}, the source has {expected}; copy into an empty database"
        )
    return int(highest)


async def _write_batch(
    target: asyncpg.Connection, table: Table, batch: Sequence[Sequence[Any]]
) -> tuple[int, int]:
    """Adds the rows the target lacks and compares the others: (added, already there)."""
    columns = [list(values) for values in zip(*batch, strict=True)]
    outcome = await target.fetchrow(table.batch_sql(), *columns)
    if outcome is None:
        raise StoreError(f"writing {table.name} returned nothing")  # one row, always
    added, present, differing = outcome
    if differing is not None:
        raise StoreError(
            f"the target's {table.name} row ({differing}) differs from the source's: that "
            "database holds other rows; copy into an empty database"
        )
    if added + present != len(batch):
        clashing = len(batch) - added - present
        raise StoreError(
            f"{clashing} {table.name} row(s) clash with other rows of the target (another "
            "unique key): that database holds other rows; copy into an empty database"
        )
    return int(added), int(present)


async def _advance_ids(
    source: aiosqlite.Connection, target: asyncpg.Connection, tables: Sequence[Table]
) -> None:
    """Moves each id sequence past every id the source ever gave, so new rows never take
    one: the file's AUTOINCREMENT counter too, since a forgotten message's id stays in
    usage and feedback rows."""
    for table in tables:
        if not table.numbered:
            continue
        copied = await _source_value(source, f"SELECT coalesce(max(id), 0) FROM {table.name}")
        given = await _source_value(
            source,
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?",
            (table.name,),
        )
        there = await target.fetchval(f"SELECT coalesce(max(id), 0) FROM {table.name}")
        highest = max(copied, given, int(there))
        if highest > 0:
            await target.execute(
                "SELECT setval(pg_get_serial_sequence($1, 'id'), $2)", table.name, highest
            )


async def counts(
    source: aiosqlite.Connection, target: asyncpg.Connection, tables: Sequence[Table]
) -> list[TableCount]:
    found = []
    for table in tables:
        sql = f"SELECT count(*) FROM {table.name}"
        found.append(
            TableCount(table.name, await _source_value(source, sql), await target.fetchval(sql))
        )
    return found


async def _source_value(source: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    async with source.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0
