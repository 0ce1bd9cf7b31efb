"""The store's accounts: usage per turn, and the events already answered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core.store import erasure
from core.store import queries as q
from core.store.backend import Backend
from core.store.postgres.spend import SettlingSpend
from core.store.records import UsageRecord, UsageRow, to_timestamp, usage_params, usage_row_from
from core.store.spend import SpendReader, WatermarkSpend


class Ledger:
    """Rows that hold no conversation content; they need none of the store's caches."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    async def record_usage(self, record: UsageRecord) -> None:
        params = usage_params(record, self._db.clock())
        async with self._db.writing(f"recording usage in {record.key}") as conn:
            await conn.run(q.INSERT_USAGE_SQL, params)

    async def usage_rows(self, since: datetime, until: datetime) -> list[UsageRow]:
        """Usage recorded in [since, until), summed per day and dimension."""
        params = (to_timestamp(since), to_timestamp(until))
        async with self._db.single_statements("reading usage") as conn:
            rows = await conn.fetch(q.USAGE_ROWS_SQL, params)
        return [usage_row_from(row) for row in rows]

    async def spend_rows(self, since: datetime, after_id: int = 0) -> tuple[list[UsageRow], int]:
        """Usage since `since` (ids above `after_id` only), per day and dimension; the top id."""
        start = to_timestamp(since)
        async with self._db.single_statements("reading spend for budgets") as conn:
            ((top,),) = await conn.fetch(q.USAGE_WATERMARK_SQL)
            if after_id:
                params: tuple[object, ...] = (after_id, top, start)
                rows = await conn.fetch(q.SPEND_ADDED_SQL, params)
            else:
                rows = await conn.fetch(q.SPEND_SINCE_SQL, (start, top))
        return [usage_row_from(row) for row in rows], int(top)

    def spend_reader(self) -> SpendReader:
        """What a budget ledger reads its spend through: a watermark where one writer
        commits at a time, one that waits for open transactions where several write."""
        if self._db.concurrent_writers:
            return SettlingSpend(self._db)
        return WatermarkSpend(self)

    async def prune_usage(self, older_than: timedelta) -> int:
        cutoff = to_timestamp(self._db.clock() - older_than)
        async with self._db.writing("pruning old usage") as conn:
            return await conn.run(q.PRUNE_USAGE_SQL, (cutoff,))

    async def claim_event(self, scope: str, event_id: str) -> bool:
        """True the first time (scope, event_id) is seen, across restarts; False after."""
        params = (scope, event_id, to_timestamp(self._db.clock()))
        async with self._db.writing(f"claiming event {scope}/{event_id}") as conn:
            return bool(await conn.fetch(q.CLAIM_EVENT_SQL, params))

    async def event_seen(self, scope: str, event_id: str) -> bool:
        """Whether (scope, event_id) was claimed, without claiming it."""
        async with self._db.single_statements(f"looking up event {scope}/{event_id}") as conn:
            return bool(await conn.fetch(q.EVENT_SEEN_SQL, (scope, event_id)))

    async def prune_events(self, older_than: timedelta, *, keep: Sequence[str] = ()) -> int:
        """Forget events claimed more than `older_than` ago, except in scopes starting
        with a prefix in `keep` (permanent markers); returns how many went."""
        cutoff = to_timestamp(self._db.clock() - older_than)
        async with self._db.writing("pruning old events") as conn:
            return await erasure.prune_events(conn, cutoff, keep)
