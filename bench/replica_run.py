"""One replica of bench/load_replicas.py: `parley run` itself, with bench.load's limits lifted.

Run: python -m bench.replica_run run --config bots.yaml   (PARLEY_REPLICA names the replica)

It prints "ready" on stdout once its bots are connected and the model side is loaded, so the
driver starts the burst (and its CPU count) on a fact rather than after a guessed wait.
PARLEY_BENCH_PROFILE=<file> runs it under cProfile from "ready" until it stops (SIGTERM) and
writes the stats to that file. PARLEY_BENCH_STATEMENTS=<file>: writes there, as JSON, how many
times it sent each SQL statement from "ready" until it stopped (bench/statement_count.py).
"""

from __future__ import annotations

import cProfile
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bots.app as app
from bench import statement_count
from bench.load import lift_limits
from bots.warm_up import warm_up_once_connected
from cli.main import main

PROFILE_VARIABLE = "PARLEY_BENCH_PROFILE"
STATEMENTS_VARIABLE = "PARLEY_BENCH_STATEMENTS"


def say_when_warm(
    warm_up: Callable[..., Awaitable[None]], profiler: cProfile.Profile | None
) -> Callable[..., Awaitable[None]]:
    """run_bots' warm-up (it waits for every bot to connect), then "ready" on stdout."""

    async def warm_up_then_say(*args: Any, **kwargs: Any) -> None:
        await warm_up(*args, **kwargs)
        print("ready", flush=True)
        statement_count.counts.clear()  # from here on: the burst's statements only
        if profiler is not None:
            profiler.enable()

    return warm_up_then_say


def run_replica() -> int:
    lift_limits()
    statements_to = os.environ.get(STATEMENTS_VARIABLE)
    if statements_to:
        statement_count.count_statements()
    profile_to = os.environ.get(PROFILE_VARIABLE)
    # CPU time, not wall time: replicas sharing two cores spend much of a turn descheduled.
    profiler = cProfile.Profile(time.thread_time) if profile_to else None
    warm_up = say_when_warm(warm_up_once_connected, profiler)
    app.warm_up_once_connected = warm_up  # type: ignore[attr-defined,assignment]  # observed, not replaced
    try:
        return main(sys.argv[1:])
    finally:
        if statements_to:
            statement_count.dump(Path(statements_to))
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)


if __name__ == "__main__":
    sys.exit(run_replica())
