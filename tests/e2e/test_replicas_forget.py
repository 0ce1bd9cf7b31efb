"""Forgetting a thread on one replica while another streams a reply in it: `reset` in the
thread waits for the reply, then forgets it; `parley forget` (no turn lock: an admin's
erasure) cuts under it. Either way no crash, and nothing forgotten comes back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store import Place
from tests.e2e.replicas import message, replica_config, replicas
from tests.e2e.test_replicas_processes import counted_reply, rows
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import wait_until


async def test_a_reset_on_one_replica_waits_for_the_reply_streaming_on_another(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.store.postgres.coordination")
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    release = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("streaming ", "still"), release=release))
    fake_openai.default = counted_reply
    async with replicas(config, ("a", "b"), monkeypatch) as (a, b):
        streamed = RecordingSink()
        streaming = asyncio.create_task(b.engine.handle(message("story", "m1"), streamed))
        await wait_until(lambda: len(fake_openai.requests) == 1)
        reset = RecordingSink()
        resetting = asyncio.create_task(a.engine.handle(message("reset", "m2"), reset))
        ended: list[str] = []
        streaming.add_done_callback(lambda _: ended.append("reply"))
        resetting.add_done_callback(lambda _: ended.append("reset"))
        await wait_until(lambda: "waiting" in caplog.text, 10, "the reset waits for the thread")
        release.set()
        await asyncio.gather(streaming, resetting)
        after = RecordingSink()
        await b.engine.handle(message("anything before?", "m3"), after)
    assert streamed.text == "streaming still" and streamed.error is None
    assert ended == ["reply", "reset"]
    assert reset.said == ["Done: I've forgotten this thread (2 messages)."], reset.said
    assert after.text == "after 0 replies: anything before?"  # nothing resurrected
    left = await rows(postgres_url, "SELECT content FROM messages ORDER BY id")
    assert [r["content"] for r in left][-1] == "after 0 replies: anything before?"
    assert not any("story" in r["content"] or "streaming" in r["content"] for r in left)


async def test_parley_forget_under_a_streaming_reply_ends_it_cleanly(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    release = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("streaming ", "still"), release=release))
    fake_openai.default = counted_reply
    async with replicas(config, ("a", "b"), monkeypatch) as (a, b):
        streamed = RecordingSink()
        streaming = asyncio.create_task(b.engine.handle(message("story", "m1"), streamed))
        await wait_until(lambda: len(fake_openai.requests) == 1)
        erased = await a.store.forget_place(Place("slack", "T1", "C1", "1700000000.000100"))
        release.set()
        await streaming
        after = RecordingSink()
        await b.engine.handle(message("anything before?", "m3"), after)
    assert erased.messages == 2
    # The words reached the thread; their row was gone, so the turn ends with the one
    # short store notice (never a crash, never a row written back).
    assert streamed.text == "streaming still"
    assert isinstance(streamed.error, StoreError) and len(streamed.error.user_message) < 120
    assert after.text == "after 0 replies: anything before?"
    left = await rows(postgres_url, "SELECT content FROM messages ORDER BY id")
    assert [r["content"] for r in left] == [
        "anything before?",
        "after 0 replies: anything before?",
    ]
