"""Deliveries received together, written in one transaction: one BEGIN and COMMIT a burst.

Each delivery is still marked seen only together with its rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.errors import StoreError
from core.store.arrivals import Arrival, Claim
from core.store.backend import Backend
from core.store.records import NewMessage
from core.store.sql import Conn
from core.types import ConversationKey


@dataclass(slots=True)
class Receipt:
    """One delivery waiting for its transaction."""

    key: ConversationKey
    claim: Claim
    rows: list[NewMessage]
    now: str
    done: asyncio.Future[Arrival | None]


@dataclass(frozen=True, slots=True)
class Written:
    """What a receipt left in the transaction; the caches learn it only once committed."""

    arrival: Arrival | None
    conversation_id: int
    created: bool  # this receipt made the conversation's row
    stored: bool  # its rows went in (False: a delivery seen before)


Prepare = Callable[[Conn], Awaitable[None]]
Write = Callable[[Conn, Receipt], Awaitable[Written]]
Committed = Callable[[Receipt, Written], None]


class ReceiveBatches:
    """Queues receipts; one writer task per batch takes every receipt queued by the time it
    holds the connection and writes them in one transaction.

    A batch that fails is written again one receipt per transaction, so one bad receipt
    fails alone. A caller cancelled before its batch is taken writes nothing; after, its
    rows are kept, as after a crash past the COMMIT (the next start marks the reply row
    interrupted, and a redelivery is answered).
    """

    def __init__(self, db: Backend, prepare: Prepare, write: Write, committed: Committed) -> None:
        self._db = db
        self._prepare = prepare
        self._write = write
        self._committed = committed
        self._queued: list[Receipt] = []
        self._writers: set[asyncio.Task[None]] = set()

    async def receive(
        self, key: ConversationKey, claim: Claim, rows: list[NewMessage], now: str
    ) -> Arrival | None:
        done: asyncio.Future[Arrival | None] = asyncio.get_running_loop().create_future()
        self._queued.append(Receipt(key, claim, rows, now, done))
        if len(self._queued) == 1:
            writer = asyncio.create_task(self._write_batch(), name="store-receive")
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await done

    async def wait(self) -> None:
        """Until every batch queued so far is written (the store is about to close)."""
        while self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)

    def _take(self) -> list[Receipt]:
        batch, self._queued = self._queued, []
        return [receipt for receipt in batch if not receipt.done.done()]  # callers gone

    async def _write_batch(self) -> None:
        batch: list[Receipt] = []
        try:
            try:
                async with self._db.writing("receiving messages", durable=True) as conn:
                    batch = self._take()
                    await self._prepare(conn)
                    written = [await self._write(conn, receipt) for receipt in batch]
            except StoreError as error:
                batch = batch or self._take()
                if len(batch) == 1:
                    _fail(batch[0], error)
                    return
                for receipt in batch:
                    await self._write_alone(receipt)
                return
            for receipt, result in zip(batch, written, strict=True):
                self._committed(receipt, result)
                _settle(receipt, result.arrival)
        except BaseException as error:
            # Cancelled (the store or the loop shutting down) or a bug: no caller waits forever.
            failed = StoreError(f"receiving a message failed: {type(error).__name__}: {error}")
            for receipt in batch or self._take():
                _fail(receipt, failed)
            raise

    async def _write_alone(self, receipt: Receipt) -> None:
        try:
            async with self._db.writing(
                f"receiving a message in {receipt.key}", durable=True
            ) as conn:
                result = await self._write(conn, receipt)
        except StoreError as error:
            _fail(receipt, error)
            return
        self._committed(receipt, result)
        _settle(receipt, result.arrival)


def _settle(receipt: Receipt, arrival: Arrival | None) -> None:
    if not receipt.done.done():
        receipt.done.set_result(arrival)


def _fail(receipt: Receipt, error: StoreError) -> None:
    if not receipt.done.done():
        receipt.done.set_exception(error)
