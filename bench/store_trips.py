"""Round trips to the store per Slack turn: how often a turn hands work to SQLite's thread.

Run: .venv/bin/python -m bench.store_trips [--follow-ups 5]

Every aiosqlite call (a statement, a fetch, a commit) goes through one method that queues it
for the database thread and waits: each is a round trip. This counts them per turn of
`bench.slack_turns` (same fakes, same config), so the store's share of a turn is a number
that does not depend on how busy the machine is. Turns are counted from the event leaving
the fake Slack until the fake has the final text, so writes after the final edit (usage)
that land before the next turn are counted with that next turn.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite.core

import bench.turns
from bench.slack_turns import CONFIG, environment, make_bot
from bots import event_loop

trips = 0
_execute: Callable[..., Awaitable[Any]] = aiosqlite.core.Connection._execute


async def _counted_execute(self: aiosqlite.core.Connection, *args: Any, **kwargs: Any) -> Any:
    global trips
    trips += 1
    return await _execute(self, *args, **kwargs)


_timed_turn = bench.turns.timed_turn
per_turn: list[int] = []


async def _counted_turn(fakes: bench.turns.Fakes, thread: str | None) -> dict[str, Any]:
    before = trips
    result = await _timed_turn(fakes, thread)
    per_turn.append(trips - before)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow-ups", type=int, default=5)
    follow_ups = parser.parse_args().follow_ups
    # Counting calls is the point of this benchmark, so it swaps the two functions in.
    aiosqlite.core.Connection._execute = _counted_execute  # type: ignore[method-assign]
    bench.turns.timed_turn = _counted_turn
    turns = bench.turns.benchmark("bench.slack_fakes", CONFIG, environment, make_bot, follow_ups)
    event_loop.run(turns)
    print(f"store round trips per turn: {per_turn}")
    print(f"follow-up median: {statistics.median(per_turn[1:]):.0f}")
