"""What budgets read of the usage table: the spend of a period, then each row added since,
once, whichever replica wrote it and however late its transaction committed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from core.store.records import UsageRow

if TYPE_CHECKING:
    from core.store.ledger import Ledger


class SpendReader(Protocol):
    async def period(self, since: datetime) -> list[UsageRow]:
        """Every usage row since `since`: a count from nothing."""
        ...

    async def added(self, since: datetime) -> list[UsageRow]:
        """The rows since `since` that no earlier call returned."""
        ...


class WatermarkSpend:
    """One writer at a time (SQLite): a row's id is taken and committed inside one
    transaction that no other overlaps, so the highest id read is an exact watermark."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._watermark = 0

    async def period(self, since: datetime) -> list[UsageRow]:
        rows, self._watermark = await self._ledger.spend_rows(since)
        return rows

    async def added(self, since: datetime) -> list[UsageRow]:
        rows, self._watermark = await self._ledger.spend_rows(since, self._watermark)
        return rows
