"""Engine overhead per turn with 100,000 stored messages: everything except waiting for the model.

Run: .venv/bin/python -m bench.engine_overhead [--turns 1000] [--rounds 5] [--postgres]

`--postgres` stores on PostgreSQL (PARLEY_TEST_DATABASE_URL's server, else an embedded
PostgreSQL 18 with its default settings on a unix socket) instead of the SQLite file.

The model is the fake OpenAI server in a separate process, answering at once over loopback.
Overhead = the turn's wall time minus the time spent inside the model client's stream (the
HTTP round trip and SSE parsing), so it is what Parley itself adds: history read, context
fitting, token counting, four SQLite commits and the sink calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path

from bots import event_loop
from bots.app import open_runtime
from core.config import ProviderConfig
from core.llm import ModelClient, ModelEvent, ModelRequest
from core.providers import ModelClients, client_for
from core.store import NewMessage, Store
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY, write_config
from tests.e2e.replicas import replica_config
from tests.fakes.sinks import RecordingSink
from tests.postgres import SERVER_URL_VARIABLE, create_database, embedded_server

CONVERSATIONS = 5_000
MESSAGES_PER_CONVERSATION = 20  # 100,000 in all
BUDGETS = (
    "budgets:\n"
    "  - {per: user, tokens: 1000000000000}\n"
    "  - {per: workspace, period: month, tokens: 1000000000000}\n"
)
# The fake keeps every request body for tests to inspect; over thousands of turns that
# slows it down (and shares our two cores), so the benchmark's copy forgets them.
SERVE_FAKE = (
    "import asyncio\n"
    "from tests.fakes.openai_server import FakeOpenAI, Script\n"
    "async def main():\n"
    "    async with FakeOpenAI(default=Script(chunks=('Sure, ', 'here you go.'))) as fake:\n"
    "        print(fake.base_url, flush=True)\n"
    "        while True:\n"
    "            await asyncio.sleep(0.5)\n"
    "            fake.requests.clear()\n"
    "            fake.authorizations.clear()\n"
    "asyncio.run(main())\n"
)


class TimedClient:
    """Wraps the real client and adds up the time spent waiting on the model."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner
        self.waiting = 0.0

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        events = self.inner.stream(request)
        while True:
            started = time.perf_counter()
            try:
                event = await anext(events)
            except StopAsyncIteration:
                self.waiting += time.perf_counter() - started
                return
            self.waiting += time.perf_counter() - started
            yield event

    async def close(self) -> None:
        await self.inner.close()


def key_of(n: int) -> ConversationKey:
    return ConversationKey("slack", f"T{n % 7:04d}", f"C{n % 101:05d}", f"17000{n:05d}.000100")


async def seed(database: Path | str) -> None:
    filler = "lorem ipsum dolor " * 4
    store = await (Store.connect(database) if isinstance(database, str) else Store.open(database))
    try:
        for n in range(CONVERSATIONS):
            thread = [
                NewMessage(
                    role="user" if m % 2 == 0 else "assistant",
                    author_id="U1",
                    author_name="Alice",
                    content=f"message {m} of conversation {n}: {filler}",
                    status="complete",
                    token_count=30,
                )
                for m in range(MESSAGES_PER_CONVERSATION)
            ]
            await store.add_messages(key_of(n), thread)
    finally:
        await store.close()


async def measure(config: Path, turns: int) -> tuple[list[float], list[float]]:
    clients: list[TimedClient] = []

    def timed_factory(provider: ProviderConfig) -> ModelClient:
        clients.append(TimedClient(client_for(provider)))
        return clients[-1]

    totals: list[float] = []
    overheads: list[float] = []
    async with open_runtime(config, models=ModelClients(timed_factory)) as runtime:
        for i in range(turns + 100):
            n = random.randrange(CONVERSATIONS)
            message = IncomingMessage(
                bot="team",
                key=key_of(n),
                author=Author("U1", "Alice"),
                text=f"question {i}: what about the third point?",
                message_id=f"b{i}",
            )
            waited_before = sum(client.waiting for client in clients)
            started = time.perf_counter()
            await runtime.engine.handle(message, RecordingSink())
            total = time.perf_counter() - started
            waited = sum(client.waiting for client in clients) - waited_before
            if i >= 100:  # the first turns warm up connections and caches
                totals.append(total * 1000)
                overheads.append((total - waited) * 1000)
    return totals, overheads


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(turns: int, rounds: int, postgres: str | None) -> None:
    fake = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_FAKE, stdout=asyncio.subprocess.PIPE
    )
    assert fake.stdout is not None
    base_url = (await fake.stdout.readline()).decode().strip()
    results: list[tuple[float, float, float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            if postgres is None:
                config = write_config(Path(scratch), base_url)
                database: Path | str = Path(scratch) / "data" / "parley.db"
            else:
                config = replica_config(Path(scratch), base_url, postgres)
                database = postgres
            # Never reached, but checked on every turn: their cost is part of the overhead.
            config.write_text(config.read_text() + BUDGETS)
            os.environ["PARLEY_TEST_KEY"] = TEST_KEY
            started = time.perf_counter()
            await seed(database)
            print(
                f"seeded {CONVERSATIONS * MESSAGES_PER_CONVERSATION:,} messages in "
                f"{CONVERSATIONS:,} conversations in {time.perf_counter() - started:.1f}s"
            )
            for round_number in range(1, rounds + 1):
                totals, overheads = await measure(config, turns)
                results.append(report(round_number, overheads, totals))
    finally:
        fake.terminate()
        await fake.wait()
    # Shared, noisy machines: the median round is the figure to quote.
    medians = [statistics.median(column) for column in zip(*results, strict=True)]
    print(
        f"median of {rounds} rounds: engine overhead p50 {medians[0]:.2f} ms, "
        f"p99 {medians[1]:.2f} ms; whole turn p50 {medians[2]:.2f} ms, p99 {medians[3]:.2f} ms"
    )


def report(
    round_number: int, overheads: list[float], totals: list[float]
) -> tuple[float, float, float, float]:
    figures = (
        statistics.median(overheads),
        percentile(overheads, 0.99),
        statistics.median(totals),
        percentile(totals, 0.99),
    )
    print(
        f"round {round_number}: engine overhead p50 {figures[0]:.2f} ms, p99 {figures[1]:.2f} ms;"
        f" whole turn p50 {figures[2]:.2f} ms, p99 {figures[3]:.2f} ms ({len(totals)} turns)"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="measured turns per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="store on PostgreSQL")
    arguments = parser.parse_args()
    if not arguments.postgres:
        event_loop.run(main(arguments.turns, arguments.rounds, None))
    else:
        given = os.environ.get(SERVER_URL_VARIABLE)
        # PostgreSQL's own settings (fsync on), not the tests' fast ones.
        with contextlib.nullcontext(given) if given else embedded_server(durable=True) as server:
            url = event_loop.run(create_database(server))
            event_loop.run(main(arguments.turns, arguments.rounds, url))
