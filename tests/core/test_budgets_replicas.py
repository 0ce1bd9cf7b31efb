"""Budgets across replicas: two replicas on one PostgreSQL spend from one budget, each
counting its own turns at once and the other's at its next catch-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from bots.config_models import load_config
from core.budgets import REFRESH_EVERY, BudgetLedger
from core.config import Config
from core.errors import BudgetExhausted
from core.store import Store, UsageRecord
from core.store import queries as q
from core.store.postgres.dialect import postgres_sql
from core.store.records import usage_params
from core.types import Author, ConversationKey, IncomingMessage
from tests.core.store.backends import PostgresDb
from tests.e2e.conftest import TEST_KEY, write_config

KEY = ConversationKey("console", "local", "general", "t1")
BUDGET = 30  # tokens per user and day


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def next_catch_up(self) -> None:
        self.now += REFRESH_EVERY


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)
    path = write_config(tmp_path, "http://127.0.0.1:9/v1")  # no model is called
    path.write_text(f"{path.read_text()}budgets:\n  - {{per: user, tokens: {BUDGET}}}\n")
    return load_config(path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stores(postgres_url: str, clock: Clock) -> AsyncIterator[tuple[Store, Store]]:
    db = PostgresDb(postgres_url)
    async with (
        await db.open(clock=clock, replica="a") as a,
        await db.open(clock=clock, replica="b") as b,
    ):
        yield a, b


def message(user: str) -> IncomingMessage:
    return IncomingMessage("parley", KEY, Author(user, user), "question", "m1")


def usage(user: str, tokens: int) -> UsageRecord:
    return UsageRecord(KEY, "parley", "helper", "gpt-4o", user, tokens, 0, 0)


async def spend(store: Store, ledger: BudgetLedger, user: str, tokens: int) -> None:
    """A turn's model call on this replica: recorded, and counted by its ledger at once."""
    record = usage(user, tokens)
    await store.ledger.record_usage(record)
    ledger.spent(record)


async def allows(ledger: BudgetLedger, config: Config, user: str) -> bool:
    try:
        await ledger.check(config, message(user))
    except BudgetExhausted:
        return False
    return True


async def test_each_replica_refuses_once_the_shared_total_is_reached(
    stores: tuple[Store, Store], config: Config, clock: Clock
) -> None:
    store_a, store_b = stores
    a, b = BudgetLedger(store_a, clock), BudgetLedger(store_b, clock)
    assert await allows(a, config, "U1") and await allows(b, config, "U1")
    await spend(store_a, a, "U1", 12)
    await spend(store_b, b, "U1", 12)
    # Each knows its own 12 only: neither has reached 30.
    assert await allows(a, config, "U1") and await allows(b, config, "U1")
    clock.next_catch_up()
    assert await allows(a, config, "U1") and await allows(b, config, "U1")  # 24 now, both
    await spend(store_a, a, "U1", 6)
    assert not await allows(a, config, "U1")  # its own turn reached 30: refused at once
    assert await allows(b, config, "U1")  # b knows 24 until its next catch-up
    clock.next_catch_up()
    assert not await allows(b, config, "U1")
    assert not await allows(a, config, "U1")  # counted once each: no more, no less
    assert await allows(b, config, "U2")  # another user's allowance is untouched


async def test_a_turn_committed_late_on_another_replica_is_still_counted(
    stores: tuple[Store, Store], config: Config, clock: Clock, postgres_url: str
) -> None:
    store_a, store_b = stores
    b = BudgetLedger(store_b, clock)
    assert await allows(b, config, "U1")
    late = await asyncpg.connect(postgres_url)
    try:
        async with late.transaction():
            # A turn's usage row (U1 spends the whole budget): its id is taken now...
            params = usage_params(usage("U1", BUDGET), clock())
            await late.execute(postgres_sql(q.INSERT_USAGE_SQL), *params)
            # ...while a later row, with a higher id, commits first and is read.
            await store_a.ledger.record_usage(usage("U2", BUDGET // 2))
            clock.next_catch_up()
            assert await allows(b, config, "U1")
            assert await allows(b, config, "U2")
    finally:
        await late.close()
    clock.next_catch_up()
    assert not await allows(b, config, "U1")  # counted, though its id was passed
    assert await allows(b, config, "U2")  # and U2's half not counted twice
    clock.next_catch_up()
    assert await allows(b, config, "U2")
