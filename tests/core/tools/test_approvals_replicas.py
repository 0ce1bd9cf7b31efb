"""Approvals across replicas: two replicas on one PostgreSQL, a request asked on one and
clicked on the other is decided by the one that asked, once, by the same rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from core.store import Store
from core.tools.approval_relay import CHANNEL, SharedApprovals
from core.tools.approvals import Approvals
from core.types import ApprovalRequest, ApprovalSettled, ConversationKey
from tests.core.store.backends import PostgresDb
from tests.core.tools.test_approvals import ASKER, KEY, ApprovalSink, click
from tests.fakes.waiting import wait_until

Replica = tuple[Store, SharedApprovals]


def replica_on(store: Store) -> SharedApprovals:
    return SharedApprovals(Approvals(lambda: datetime.now(UTC)), store.coordination)


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[Replica]]:
    """Three replicas, a, b and c; a test may close one's store (its replica dies)."""
    db = PostgresDb(postgres_url)
    async with AsyncExitStack() as stack:
        opened = []
        for name in "abc":
            store = await db.open(replica=name)
            stack.push_async_callback(store.close)
            opened.append((store, replica_on(store)))
        yield opened


async def asking(
    approvals: SharedApprovals, sink: ApprovalSink, key: ConversationKey = KEY, seconds: float = 60
) -> tuple[asyncio.Task[ApprovalSettled], ApprovalRequest]:
    task = asyncio.create_task(
        approvals.ask("team", key, "docs.delete_page", '{"page": "x"}', ASKER, sink, seconds)
    )
    return task, await sink.asked.get()


async def test_a_click_on_another_replica_decides_the_request_where_it_was_asked(
    replicas: list[Replica],
) -> None:
    (_, a), (_, b), (_, c) = replicas
    sink = ApprovalSink()
    task, request = await asking(a, sink)
    assert await b.click(click(request, "U2")) == "not_allowed"  # a stranger, told on b
    assert await b.click(click(request, "U1", channel="C2")) == "unknown"  # another thread
    # The same click delivered to two replicas at once: one decision.
    results = await asyncio.gather(b.click(click(request, "U1")), c.click(click(request, "U1")))
    assert sorted(results) == ["approved", "decided"]
    settled = await task
    assert (settled.decision, settled.by) == ("approved", "u1")
    assert sink.settled == [settled]
    assert await b.click(click(request, "U1", approve=False)) == "decided"  # late, after it ended


async def test_an_admin_on_another_replica_may_deny(replicas: list[Replica]) -> None:
    (_, a), (_, b), _ = replicas
    task, request = await asking(a, ApprovalSink())
    assert await b.click(click(request, "U9", approve=False, admin=True)) == "denied"
    assert ((await task).decision, (await task).by) == ("denied", "u9")


async def test_a_click_whose_asker_is_gone_is_answered_as_unknown(
    replicas: list[Replica],
) -> None:
    (store_a, a), (_, b), _ = replicas
    task, request = await asking(a, ApprovalSink())
    task.cancel()  # replica a dies with its turn
    with pytest.raises(asyncio.CancelledError):
        await task
    await store_a.close()
    assert await b.click(click(request, "U1")) == "unknown"


async def test_a_reset_on_one_replica_withdraws_the_threads_requests_on_the_others(
    replicas: list[Replica],
) -> None:
    (_, a), (_, b), (_, c) = replicas
    other = ConversationKey("slack", "T1", "C1", "1700000000.000200")
    reset_here, request = await asking(a, ApprovalSink())
    elsewhere, other_request = await asking(c, ApprovalSink(), other)
    assert await b.withdraw(KEY, "Bob") == 0  # none waits on b itself
    settled = await reset_here
    assert (settled.decision, settled.by) == ("denied", "Bob")
    assert await b.click(click(request, "U1")) == "decided"
    # The other thread's request still waits for its click.
    assert not elsewhere.done()
    assert await b.click(click(other_request, "U1")) == "approved"
    assert (await elsewhere).decision == "approved"


async def test_a_click_after_expiry_on_another_replica_is_told_it_expired(
    replicas: list[Replica],
) -> None:
    (_, a), (_, b), _ = replicas
    task, request = await asking(a, ApprovalSink(), seconds=0.05)
    assert (await task).decision == "expired"
    assert await b.click(click(request, "U1")) == "expired"


async def test_a_garbled_message_from_another_replica_is_logged_and_changes_nothing(
    replicas: list[Replica], caplog: pytest.LogCaptureFixture
) -> None:
    (_, a), (_, b), (store_c, _) = replicas
    task, request = await asking(a, ApprovalSink())
    await store_c.coordination.publish(CHANNEL, '{"kind": "click", "click": {"nope": 1}}')
    await store_c.coordination.publish(CHANNEL, "not json")
    await wait_until(
        lambda: len([r for r in caplog.records if "not understood" in r.getMessage()]) == 2
    )
    assert not task.done()
    assert await b.click(click(request, "U1")) == "approved"
    assert (await task).decision == "approved"


async def test_a_replica_that_cannot_listen_still_asks_and_decides_its_own_clicks(
    replicas: list[Replica], caplog: pytest.LogCaptureFixture
) -> None:
    (store_a, a), _, _ = replicas
    await store_a.close()  # its connection to the others is gone
    task, request = await asking(a, ApprovalSink())
    assert any("not listening" in r.getMessage() for r in caplog.records)
    assert await a.click(click(request, "U1")) == "approved"
    assert (await task).decision == "approved"
