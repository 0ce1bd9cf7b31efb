"""Budgets' reading of the usage table on PostgreSQL, where replicas insert at once and a
row with a lower id may commit after one with a higher id was read.

A watermark (`max(id)` read) would pass such a row and never count it. Here the watermark
trails instead: a row's id is taken by `nextval` while its INSERT holds the usage table's
RowExclusiveLock, which it took before and keeps until its transaction ends. So at each
read we note the sequence's last value, then which transactions hold that lock: once all
of them have ended (a later read no longer sees them in pg_locks), every id up to that
value is committed or never will be, and the watermark (the floor) may move up to it. The
rows above the floor are read one by one and remembered by id, so one that was seen before
is not counted again. Exact, whatever the commit order or a transaction's length, at the
price of two small reads (the sequence, pg_locks) per catch-up; the rows re-read are those
of the last catch-up or two. (It relies on the identity's CACHE 1, the default: with a
per-session cache a session could use an id taken long before its INSERT.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from core.store import queries as q
from core.store.backend import Backend
from core.store.records import UsageRow, to_timestamp, usage_row_from
from core.store.sql import Conn

_SEQUENCE_SQL: Final = (
    "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('usage', 'id')::regclass), 0)"
)
# Every INSERT, UPDATE or DELETE on usage holds this from before its first row to its end.
# pg_locks shows every database of the server: a table elsewhere may share usage's oid.
_WRITERS_SQL: Final = (
    "SELECT DISTINCT virtualtransaction FROM pg_locks WHERE locktype = 'relation'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND relation = 'usage'::regclass AND mode = 'RowExclusiveLock'"
)
# One row each, its id first: the rows above the floor are told apart by id.
_ROWS_ABOVE_SQL: Final = (
    "SELECT id, substr(created_at, 1, 10), platform, workspace, channel, bot, persona, model,"
    " user_id, 1, prompt_tokens, completion_tokens, cached_tokens"
    " FROM usage WHERE id > ? AND created_at >= ?"
)


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    top: int  # the sequence's last value at a read
    writers: frozenset[str]  # the transactions then holding the table's write lock


class SettlingSpend:
    def __init__(self, db: Backend) -> None:
        self._db = db
        self._floor = 0  # every row with an id up to here has committed (or never will)
        self._counted: set[int] = set()  # ids above the floor returned already
        self._waiting: list[_Checkpoint] = []

    async def period(self, since: datetime) -> list[UsageRow]:
        start = to_timestamp(since)
        async with self._db.single_statements("reading spend for budgets") as conn:
            floor = await self._settled(conn)
            settled = await conn.fetch(q.SPEND_SINCE_SQL, (start, floor))
            recent = await conn.fetch(_ROWS_ABOVE_SQL, (floor, start))
        self._floor = floor
        self._counted = {int(row[0]) for row in recent}
        return [usage_row_from(row) for row in settled] + [usage_row_from(r[1:]) for r in recent]

    async def added(self, since: datetime) -> list[UsageRow]:
        async with self._db.single_statements("reading spend for budgets") as conn:
            floor = await self._settled(conn)
            recent = await conn.fetch(_ROWS_ABOVE_SQL, (self._floor, to_timestamp(since)))
        new = [row for row in recent if int(row[0]) not in self._counted]
        self._counted.update(int(row[0]) for row in new)
        self._floor = floor
        self._counted = {counted for counted in self._counted if counted > floor}
        return [usage_row_from(row[1:]) for row in new]

    async def _settled(self, conn: Conn) -> int:
        """Notes this read's checkpoint; returns the highest id up to which every row has
        committed or never will. The sequence is read before the locks: a transaction that
        took an id up to `top` holds the lock from before it, so it is among `writers`
        unless it has ended (and then the rows read after this see its row)."""
        ((top,),) = await conn.fetch(_SEQUENCE_SQL)
        writers = frozenset(str(row[0]) for row in await conn.fetch(_WRITERS_SQL))
        floor = self._floor
        waiting = []
        for checkpoint in self._waiting:
            if checkpoint.writers & writers:
                waiting.append(checkpoint)
            else:
                floor = max(floor, checkpoint.top)
        if writers:
            waiting.append(_Checkpoint(int(top), writers))
        else:
            floor = max(floor, int(top))
        self._waiting = [checkpoint for checkpoint in waiting if checkpoint.top > floor]
        return floor
