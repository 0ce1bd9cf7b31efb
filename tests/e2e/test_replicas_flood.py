"""One thread flooded on three replicas at once, each with a pool of one connection: every
message answered once, one turn at a time, promptly (a replica letting an earlier one go
first wakes it), no deadlock between the thread's turn lock and the pooled connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.types import TurnSummary
from tests.e2e.replicas import message, replica_config, replicas
from tests.e2e.test_replicas_processes import counted_reply, rows
from tests.fakes.openai_server import Body, FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import deadline

FLOOD = 50


class Overlap:
    """Turns of the thread between the model being asked and the reply finished: at most
    one at a time if the thread's lock holds across replicas."""

    def __init__(self) -> None:
        self.now = self.most = 0

    def asked(self, body: Body) -> Script:
        self.now += 1
        self.most = max(self.most, self.now)
        return counted_reply(body)

    def sink(self) -> RecordingSink:
        overlap = self

        class Finishing(RecordingSink):
            async def finish(self, summary: TurnSummary) -> None:
                overlap.now -= 1
                await super().finish(summary)

        return Finishing()


async def test_fifty_messages_in_one_thread_over_three_replicas_are_answered_once_one_at_a_time(
    tmp_path: Path, fake_openai: FakeOpenAI, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = replica_config(tmp_path, fake_openai.base_url, postgres_url)
    config.write_text(config.read_text() + "  pool_min: 1\n  pool_max: 1\n")
    overlap = Overlap()
    fake_openai.default = overlap.asked
    async with replicas(config, ("a", "b", "c"), monkeypatch) as runtimes:
        sinks = [overlap.sink() for _ in range(FLOOD)]
        # 1 s for each of the 50 turns before the yielding replica woke the others.
        async with deadline(20, "every message of the flood answered"):
            outcomes = await asyncio.gather(
                *(
                    runtimes[n % 3].engine.handle(message(f"q{n}", f"m{n}"), sink)
                    for n, sink in enumerate(sinks)
                )
            )
    assert [o.handled_as for o in outcomes] == ["turn"] * FLOOD
    assert len(fake_openai.requests) == FLOOD
    assert (overlap.most, overlap.now) == (1, 0)  # one turn at a time
    found = await rows(
        postgres_url,
        "SELECT m.content, m.status, m.replica FROM messages AS m"
        " WHERE m.role = 'assistant' ORDER BY m.id",
    )
    assert [r["status"] for r in found] == ["complete"] * FLOOD
    # In the order the thread's messages were stored, each reply having seen all before it.
    assert [r["content"].split(":")[0] for r in found] == [
        f"after {n} replies" for n in range(FLOOD)
    ]
    assert sorted({r["replica"] for r in found}) == ["a", "b", "c"]
    assert sorted(sink.text.split(": ")[-1] for sink in sinks) == sorted(
        f"q{n}" for n in range(FLOOD)
    )
