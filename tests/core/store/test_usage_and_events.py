"""Usage records, event claims and their pruning, and the integrity check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.store import Store, UsageRecord
from tests.core.store.backends import StoreDb
from tests.core.store.conftest import KEY

START = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    """A hand-moved clock so tests can age rows without sleeping."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_usage_rows_land_in_the_right_columns(db: StoreDb) -> None:
    record = UsageRecord(
        key=KEY,
        bot="helper",
        persona="concise",
        model="gpt-4o-mini",
        user_id="U1",
        prompt_tokens=120,
        completion_tokens=30,
        cached_tokens=64,
        message_id=42,
    )
    async with await db.open(clock=lambda: START) as store:
        await store.ledger.record_usage(record)
        await store.ledger.record_usage(UsageRecord(KEY, "helper", "concise", "m", "U2", 1, 2, 0))
    rows = await db.rows(
        "SELECT created_at, platform, workspace, channel, thread, bot, persona, model, user_id,"
        " prompt_tokens, completion_tokens, cached_tokens, message_id FROM usage ORDER BY id",
    )
    assert rows[0] == (
        "2025-01-01T00:00:00.000000+00:00",
        "slack",
        "T1",
        "C1",
        "1700000000.000100",
        "helper",
        "concise",
        "gpt-4o-mini",
        "U1",
        120,
        30,
        64,
        42,
    )
    assert rows[1][-5:] == ("U2", 1, 2, 0, None)


async def test_claim_event_is_true_once_and_survives_a_restart(db: StoreDb) -> None:
    async with await db.open() as store:
        assert await store.ledger.claim_event("slack:T1", "Ev1") is True
        assert await store.ledger.claim_event("slack:T1", "Ev1") is False
        # The same event id in another scope is a different event.
        assert await store.ledger.claim_event("discord:G1", "Ev1") is True
    async with await db.open() as reopened:
        assert await reopened.ledger.claim_event("slack:T1", "Ev1") is False
        assert await reopened.ledger.claim_event("slack:T1", "Ev2") is True


async def test_prune_events_forgets_only_old_claims(db: StoreDb) -> None:
    clock = Clock()
    async with await db.open(clock=clock) as store:
        assert await store.ledger.claim_event("s", "old") is True
        clock.now = START + timedelta(hours=2)
        assert await store.ledger.claim_event("s", "new") is True
        clock.now = START + timedelta(hours=3)
        assert await store.ledger.prune_events(timedelta(hours=2)) == 1
        assert await store.ledger.prune_events(timedelta(hours=2)) == 0
        assert await store.ledger.claim_event("s", "new") is False
        # A pruned event may be claimed again: pruning must outlast platform retries.
        assert await store.ledger.claim_event("s", "old") is True


async def test_integrity_ok_on_a_healthy_store(store: Store) -> None:
    await store.ledger.claim_event("s", "e")
    assert await store.integrity_ok() is True


async def test_spend_rows_read_a_period_then_only_what_was_added(db: StoreDb) -> None:
    clock = Clock()
    async with await db.open(clock=clock) as store:
        assert await store.ledger.spend_rows(START) == ([], 0)
        await store.ledger.record_usage(UsageRecord(KEY, "bot", "p", "m", "U1", 100, 1, 0))
        clock.now = START + timedelta(days=1)
        await store.ledger.record_usage(UsageRecord(KEY, "bot", "p", "m", "U1", 20, 2, 0))
        await store.ledger.record_usage(UsageRecord(KEY, "bot", "p", "m", "U1", 30, 3, 0))

        rows, top = await store.ledger.spend_rows(START + timedelta(days=1))
        assert [(r.day, r.turns, r.prompt_tokens, r.completion_tokens) for r in rows] == [
            ("2025-01-02", 2, 50, 5)
        ]
        assert top == 3
        await store.ledger.record_usage(UsageRecord(KEY, "bot", "p", "m", "U2", 7, 0, 0))
        added, newer = await store.ledger.spend_rows(START, after_id=top)
        assert [(r.user_id, r.prompt_tokens) for r in added] == [("U2", 7)]
        assert newer == 4
        assert await store.ledger.spend_rows(START, after_id=newer) == ([], 4)
