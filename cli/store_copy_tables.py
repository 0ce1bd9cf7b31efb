"""What `parley store copy` moves: each table's columns and key, read from both databases,
and the statements that read the SQLite side and write the PostgreSQL side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiosqlite
import asyncpg

from core.errors import StoreError

# Parents before children: messages and message_links point at conversations.
TABLES: Final = (
    "conversations",
    "messages",
    "message_links",
    "usage",
    "feedback",
    "persona_choices",
    "processed_events",
)


@dataclass(frozen=True, slots=True)
class Table:
    """One table as both databases have it: the same columns, in PostgreSQL's order."""

    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]  # PostgreSQL's, for the arrays a batch travels in
    key: tuple[str, ...]  # the primary key, in SQLite's order

    @property
    def numbered(self) -> bool:
        """Keyed by one integer id the store hands out in order: a copy killed part way
        holds a prefix of the ids, so another run may start at the highest one."""
        return self.key == ("id",)

    def source_rows_sql(self, *, from_id: bool) -> str:
        """Every row in key order (SQLite's binary text order), from an id on if asked."""
        where = " WHERE id >= ?" if from_id else ""
        return (
            f"SELECT {', '.join(self.columns)} FROM {self.name}{where} "
            f"ORDER BY {', '.join(self.key)}"
        )

    def batch_sql(self) -> str:
        """Adds a batch's new rows and compares the ones already there, in one statement.

        The statements of a WITH share one snapshot, so the outer query sees only rows that
        were there before the INSERT: those are compared with what the source has for their
        keys. A row skipped by ON CONFLICT but not matched by key clashes on another unique
        key (a conversation's place); the caller sees it as added + present < batch.
        """
        arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(self.types, start=1))
        columns = ", ".join(self.columns)
        same_key = " AND ".join(f"t.{column} = i.{column}" for column in self.key)
        incoming_row = ", ".join(f"i.{column}" for column in self.columns)
        stored_row = ", ".join(f"t.{column}" for column in self.columns)
        key_text = ", ".join(f"i.{column}::text" for column in self.key)
        return (
            f"WITH incoming AS (SELECT * FROM unnest({arrays}) AS i ({columns})), "
            f"added AS (INSERT INTO {self.name} ({columns}) SELECT {columns} FROM incoming "
            f"ON CONFLICT DO NOTHING RETURNING 1) "
            f"SELECT (SELECT count(*) FROM added), "
            f"(SELECT count(*) FROM incoming i JOIN {self.name} t ON {same_key}), "
            f"(SELECT concat_ws(', ', {key_text}) FROM incoming i JOIN {self.name} t "
            f"ON {same_key} WHERE ROW({incoming_row}) IS DISTINCT FROM ROW({stored_row}) "
            f"LIMIT 1)"
        )


async def tables_of(source: aiosqlite.Connection, target: asyncpg.Connection) -> list[Table]:
    """Every table, as long as both databases have exactly the tables and columns the copy
    knows: a table or column it did not know would otherwise be left behind unsaid."""
    found = {str(row[0]) for row in await _sqlite(source, _SQLITE_TABLES)}
    if found != set(TABLES):
        unknown = ", ".join(sorted(found - set(TABLES))) or "none"
        missing = ", ".join(sorted(set(TABLES) - found)) or "none"
        raise StoreError(
            f"the SQLite file's tables are not the ones this copy knows "
            f"(unknown: {unknown}; missing: {missing})"
        )
    return [await _table(source, target, name) for name in TABLES]


_SQLITE_TABLES: Final = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
)
_POSTGRES_COLUMNS: Final = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
)


async def _sqlite(conn: aiosqlite.Connection, sql: str) -> Sequence[Sequence[Any]]:
    async with conn.execute(sql) as cursor:
        return list(await cursor.fetchall())


async def _table(source: aiosqlite.Connection, target: asyncpg.Connection, name: str) -> Table:
    # table_info: (cid, name, type, notnull, default, pk); pk is the column's place in the key.
    info = await _sqlite(source, f"PRAGMA table_info({name})")
    sqlite_columns = {str(row[1]) for row in info}
    key = tuple(str(row[1]) for row in sorted((r for r in info if r[5]), key=lambda r: int(r[5])))
    described = await target.fetch(_POSTGRES_COLUMNS, name)
    columns = tuple(str(row["column_name"]) for row in described)
    if set(columns) != sqlite_columns:
        raise StoreError(
            f"table {name} has columns {sorted(sqlite_columns)} in SQLite but "
            f"{sorted(columns)} in PostgreSQL; both must be this Parley's schema"
        )
    return Table(name, columns, tuple(str(row["data_type"]) for row in described), key)
