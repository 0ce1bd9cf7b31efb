"""Replicas on one PostgreSQL answer each delivery once and each thread in order: real
engines, real stores, the real openai client against the fake model."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.store.arrivals import Claim
from core.store.records import NewMessage
from core.turn.rows import INTERRUPTED, reply_placeholder
from tests.core.store.backends import PostgresDb
from tests.e2e.replicas import ANN, KEY, message, replica_config, replicas
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import wait_until


async def test_a_thread_continued_on_another_replica_waits_for_the_first_reply_and_sees_it(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.store.postgres.coordination")
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    release = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("the first answer",), release=release))
    fake_openai.default = echo_last_user
    async with replicas(config, ("a", "b"), monkeypatch) as (a, b):
        first, second = RecordingSink(), RecordingSink()
        answering = asyncio.create_task(a.engine.handle(message("one", "m1"), first))
        await wait_until(lambda: len(fake_openai.requests) == 1)
        following = asyncio.create_task(b.engine.handle(message("two", "m2"), second))
        await wait_until(lambda: "taken by another replica; waiting" in caplog.text)
        release.set()
        await asyncio.gather(answering, following)
    assert (first.text, second.text) == ("the first answer", "echo: [Ann] two")
    assert len(fake_openai.requests) == 2
    # Replica b asked the model only after replica a's reply was stored, and sent it along.
    assert "the first answer" in str(fake_openai.requests[1]["messages"])


async def test_one_delivery_handed_to_two_replicas_is_answered_once(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    fake_openai.default = echo_last_user
    caplog.set_level(logging.INFO, logger="core.engine")
    async with replicas(config, ("a", "b"), monkeypatch) as (a, b):
        sinks = [RecordingSink() for _ in range(4)]
        outcomes = await asyncio.gather(
            *(
                runtime.engine.handle(message("hello", "m1", delivery="Ev1"), sink)
                for runtime, sink in zip((a, b, a, b), sinks, strict=True)
            )
        )
    assert sorted(o.handled_as for o in outcomes) == [*["duplicate"] * 3, "turn"], outcomes
    assert len(fake_openai.requests) == 1


async def test_an_interrupted_message_redelivered_to_two_replicas_is_answered_once(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    fake_openai.default = echo_last_user
    async with replicas(config, ("a", "b"), monkeypatch) as (a, b):
        # A replica killed before it wrote a word, and restarted: its sweep marked the reply.
        rows = [NewMessage("user", ANN.id, ANN.display_name, "[Ann] lost", "complete", 3, "m9")]
        await a.store.receive(KEY, Claim("slack:team", "Ev9"), [*rows, reply_placeholder("team")])
        assert await a.store.mark_interrupted(["team"], datetime.now(UTC), INTERRUPTED) == 1
        outcomes = await asyncio.gather(
            a.engine.handle(message("lost", "m9", delivery="Ev9"), RecordingSink()),
            b.engine.handle(message("lost", "m9", delivery="Ev9"), RecordingSink()),
        )
        history = await b.store.recent_messages(KEY, 10)
    assert sorted(o.handled_as for o in outcomes) == ["duplicate", "turn"], outcomes
    assert len(fake_openai.requests) == 1
    assert [(m.role, m.status) for m in history.messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]


async def test_a_reply_waits_for_an_earlier_one_another_live_replica_took(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Replica a stored message one but has not begun answering it when replica b, handed
    message two, gets the thread's lock: b lets a go first."""
    caplog.set_level(logging.DEBUG, logger="core.store.postgres.turns")
    db = PostgresDb(postgres_url)
    user = NewMessage("user", ANN.id, ANN.display_name, "[Ann] q", "complete", 3)
    async with await db.open(replica="a") as a, await db.open(replica="b") as b:
        assert await a.coordination.hold("replica:a")
        first = await a.receive(KEY, None, [user, reply_placeholder("team")])
        second = await b.receive(KEY, None, [user, reply_placeholder("team")])
        assert first is not None and second is not None
        order: list[str] = []

        async def b_answers() -> None:
            async with b.turn(KEY, second.reply_id):
                order.append("b")

        waiting = asyncio.create_task(b_answers())
        await wait_until(lambda: "waits for replica a to answer first" in caplog.text)
        async with a.turn(KEY, first.reply_id):
            order.append("a")
            await a.update_message(first.reply_id, content="one", status="complete", token_count=1)
        await waiting
    assert order == ["a", "b"]
