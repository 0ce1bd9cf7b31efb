"""A soak: turns at a steady rate through the engine for minutes; memory, errors, latency.

Run: .venv/bin/python -m bench.soak [--seconds 300] [--rate 50] [--conversations 1000]

The fake model (bench/load_model.py) runs in its own process and streams each reply in three
chunks at once. A turn starts every 1/rate seconds, whatever the others are doing, in one of
`--conversations` threads taken in turn, so every thread's history grows through the run.
Printed: RSS every 10 s with the slope over the run after the first minute, turns that did
not end in one complete reply with the right text (errors), turn latency p50/p99 per minute,
and the database's size per 1,000 turns once Parley has closed it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import start_model
from bench.load_model import expected_reply, question
from bench.rss import database_bytes, rss_mb
from bots.app import Runtime, open_runtime
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.sinks import RecordingSink

SAMPLE_EVERY = 10.0


@dataclass
class Tally:
    started: float
    latencies: dict[int, list[float]] = field(default_factory=dict)  # minute -> seconds
    errors: list[str] = field(default_factory=list)
    turns: dict[int, int] = field(default_factory=dict)  # conversation -> turns so far
    done: int = 0


async def one_turn(runtime: Runtime, tally: Tally, n: int, conversation: int) -> None:
    turn = tally.turns[conversation] = tally.turns.get(conversation, 0) + 1
    name = f"k{conversation}"
    message = IncomingMessage(
        bot="team",
        key=ConversationKey("slack", "T0SOAK", f"C{conversation % 50:04d}", name),
        author=Author(f"U{conversation % 200}", "Soak User"),
        text=question(name, turn),
        message_id=f"m{n}",
    )
    sink = RecordingSink()
    began = time.monotonic()
    outcome = await runtime.engine.handle(message, sink)
    minute = int((began - tally.started) // 60)
    tally.latencies.setdefault(minute, []).append(time.monotonic() - began)
    tally.done += 1
    # Once a thread outgrows the context its oldest turns are left out, so the reply may have
    # seen fewer than turn - 1 replies; it must still answer this turn's question.
    answers = expected_reply(name, turn).split(" after ")[0]
    if outcome.status != "complete" or sink.endings != 1 or not sink.text.startswith(answers):
        tally.errors.append(f"{name} turn {turn}: {outcome.status} {sink.error} {sink.text!r}")


async def sample_memory(tally: Tally, samples: list[tuple[float, float]]) -> None:
    while True:
        elapsed = time.monotonic() - tally.started
        samples.append((elapsed, rss_mb()))
        print(f"  {elapsed:5.0f} s  RSS {samples[-1][1]:6.1f} MB  turns {tally.done}", flush=True)
        await asyncio.sleep(SAMPLE_EVERY)


async def soak(config: Path, seconds: float, rate: float, conversations: int) -> Tally:
    async with open_runtime(config) as runtime:
        tally = Tally(time.monotonic())
        samples: list[tuple[float, float]] = []
        sampler = asyncio.create_task(sample_memory(tally, samples))
        running: set[asyncio.Task[None]] = set()
        total = int(seconds * rate)
        for n in range(total):
            # A fixed schedule: a slow turn does not slow the arrivals behind it.
            await asyncio.sleep(max(0.0, tally.started + n / rate - time.monotonic()))
            task = asyncio.create_task(one_turn(runtime, tally, n, n % conversations))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)
        sampler.cancel()
        samples.append((time.monotonic() - tally.started, rss_mb()))
        report(tally, samples, total)
    return tally


def slope_mb_per_minute(samples: list[tuple[float, float]]) -> float:
    points = [(t, mb) for t, mb in samples if t >= 60] or samples
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_mb = statistics.fmean(mb for _, mb in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    rise = sum((t - mean_t) * (mb - mean_mb) for t, mb in points)
    return rise / spread * 60 if spread else 0.0


def report(tally: Tally, samples: list[tuple[float, float]], total: int) -> None:
    for minute, values in sorted(tally.latencies.items()):
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(
            f"minute {minute + 1}: {len(values)} turns, latency p50 "
            f"{statistics.median(values) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )
    print(
        f"{tally.done} of {total} turns, {len(tally.errors)} errors; RSS first "
        f"{samples[0][1]:.1f} MB, last {samples[-1][1]:.1f} MB, max "
        f"{max(mb for _, mb in samples):.1f} MB, slope after the first minute "
        f"{slope_mb_per_minute(samples):+.2f} MB/min"
    )
    for error in tally.errors[:10]:
        print("   ", error[:300])


async def main(arguments: argparse.Namespace) -> None:
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    model, base_url = await start_model(0.0, 3)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            config = write_config(Path(scratch), base_url)
            os.environ["PARLEY_TEST_KEY"] = TEST_KEY
            cpu = time.process_time()
            tally = await soak(config, arguments.seconds, arguments.rate, arguments.conversations)
            database = Path(scratch) / "data" / "parley.db"
            size = database_bytes(database)
            print(
                f"Parley CPU {time.process_time() - cpu:.1f} s; database after close "
                f"{size / 1e6:.2f} MB for {tally.done} turns = "
                f"{size / max(tally.done, 1) * 1000 / 1e6:.3f} MB per 1,000 turns; "
                "load average now " + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
    finally:
        model.terminate()
        await model.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=50.0, help="turns per second")
    parser.add_argument("--conversations", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
