"""Replicas on one PostgreSQL agree on roles, one-at-a-time jobs and messages; one process
on SQLite holds every role itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import StorageConfig
from core.retention import keep_pruning
from core.store import Place
from core.types import ConversationKey
from tests.core.store.backends import PostgresDb, SqliteDb
from tests.core.store.conftest import add_user_message
from tests.fakes.waiting import wait_until


async def test_a_role_is_held_by_one_replica_until_it_closes(postgres_url: str) -> None:
    db = PostgresDb(postgres_url)
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        assert await a.coordination.hold("discord:team:shard:0")
        assert await a.coordination.hold("discord:team:shard:0")  # held already: still its
        assert not await b.coordination.hold("discord:team:shard:0")
        assert await b.coordination.hold("discord:team:shard:1")
    async with await db.open(replica="c") as c:
        # Both sessions are gone, and so are their locks.
        assert await c.coordination.hold("discord:team:shard:0")


async def test_a_job_runs_on_one_replica_at_a_time(postgres_url: str) -> None:
    db = PostgresDb(postgres_url)
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        async with a.coordination.once("retention") as mine:
            assert mine
            async with b.coordination.once("retention") as theirs:
                assert not theirs
            async with a.coordination.once("retention") as again:
                assert not again  # not twice inside one replica either
        async with b.coordination.once("retention") as now_theirs:
            assert now_theirs


async def test_a_message_reaches_the_other_replicas_and_not_the_sender(postgres_url: str) -> None:
    db = PostgresDb(postgres_url)
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        heard_by_a: list[str] = []
        heard_by_b: asyncio.Queue[str] = asyncio.Queue()
        await a.coordination.subscribe("approvals", heard_by_a.append)
        await b.coordination.subscribe("approvals", heard_by_b.put_nowait)
        await a.coordination.publish("approvals", "click 42 by U1")
        await b.coordination.publish("other", "not for approvals")
        assert await heard_by_b.get() == "click 42 by U1"
        await a.coordination.publish("approvals", "second")
        assert await heard_by_b.get() == "second"
    assert heard_by_a == []


async def test_one_sqlite_process_holds_every_role(db_path: Path) -> None:
    async with await SqliteDb(db_path).open(replica="only") as store:
        assert store.coordination.replica == "only"
        assert await store.coordination.hold("discord:team:shard:0")
        async with store.coordination.once("retention") as mine:
            assert mine


async def test_a_persona_chosen_on_one_replica_is_seen_by_the_others(postgres_url: str) -> None:
    db = PostgresDb(postgres_url)
    key = ConversationKey("discord", "G1", "C1", "")
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        await a.choose_persona("team", key, "pirate", whole_channel=True, chosen_by="U1")
        await wait_until(lambda: b.chosen_persona("team", key) == "pirate", 10)
        await a.forget_place(Place("discord", "G1"))
        await wait_until(lambda: b.chosen_persona("team", key) is None, 10)


async def test_retention_runs_on_one_replica_at_a_time(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = PostgresDb(postgres_url)
    key = ConversationKey("slack", "T1", "C1", "1.0")
    month_ago = datetime.now(UTC) - timedelta(days=30)
    async with await db.open(replica="a", clock=lambda: month_ago) as old:
        await add_user_message(old, key, "old enough to prune")
    storage = StorageConfig(url=postgres_url, retention_days=7)
    caplog.set_level(logging.DEBUG, logger="core.retention")
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        async with a.coordination.once("retention"):
            pruning = asyncio.create_task(keep_pruning(b, lambda: storage))
            await wait_until(lambda: "another replica is pruning" in caplog.text, 10)
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
        assert len((await b.recent_messages(key, 10)).messages) == 1
        pruning = asyncio.create_task(keep_pruning(b, lambda: storage))
        await wait_until(lambda: "retention: deleted 1 message" in caplog.text, 10)
        pruning.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pruning


async def test_replicas_say_what_they_use_and_hear_who_disagrees(postgres_url: str) -> None:
    db = PostgresDb(postgres_url)
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        assert await a.coordination.agree("discord:disco:shard-count", 3) is None
        assert await b.coordination.agree("discord:disco:shard-count", 3) is None
        assert await b.coordination.agree("discord:other:shard-count", 2) is None
        async with await db.open(replica="c") as c:
            assert await c.coordination.agree("discord:disco:shard-count", 2) == 3
            # c said nothing in the end: the others still agree.
            assert await a.coordination.agree("discord:disco:shard-count", 3) is None
    async with await db.open(replica="d") as d:
        assert await d.coordination.agree("discord:disco:shard-count", 2) is None
