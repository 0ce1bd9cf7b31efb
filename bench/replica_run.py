"""One replica of bench/load_replicas.py: `parley run` itself, with bench.load's limits lifted.

Run: python -m bench.replica_run run --config bots.yaml   (PARLEY_REPLICA names the replica)

It prints "ready" on stdout once its bots are connected and the model side is loaded, so the
driver starts the burst (and its CPU count) on a fact rather than after a guessed wait.
PARLEY_BENCH_PROFILE=<file> runs it under cProfile from "ready" until it stops (SIGTERM) and
writes the stats to that file.
"""

from __future__ import annotations

import cProfile
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import bots.app as app
from bench.load import lift_limits
from bots.warm_up import warm_up_once_connected
from cli.main import main

PROFILE_VARIABLE = "PARLEY_BENCH_PROFILE"


def say_when_warm(
    warm_up: Callable[..., Awaitable[None]], profiler: cProfile.Profile | None
) -> Callable[..., Awaitable[None]]:
    """run_bots' warm-up (it waits for every bot to connect), then "ready" on stdout."""

    async def warm_up_then_say(*args: Any, **kwargs: Any) -> None:
        await warm_up(*args, **kwargs)
        print("ready", flush=True)
        if profiler is not None:
            profiler.enable()

    return warm_up_then_say


def run_replica() -> int:
    lift_limits()
    profile_to = os.environ.get(PROFILE_VARIABLE)
    profiler = cProfile.Profile() if profile_to else None
    warm_up = say_when_warm(warm_up_once_connected, profiler)
    app.warm_up_once_connected = warm_up  # type: ignore[attr-defined,assignment]  # observed, not replaced
    try:
        return main(sys.argv[1:])
    finally:
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)


if __name__ == "__main__":
    sys.exit(run_replica())
