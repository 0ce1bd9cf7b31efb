"""A liveness file `parley run` touches while its event loop is alive, read by `parley health`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

INTERVAL_SECONDS = 15.0
STALE_AFTER_SECONDS = 4 * INTERVAL_SECONDS


def heartbeat_path(database: Path) -> Path:
    return database.with_name(database.name + ".heartbeat")


async def beat(path: Path, interval: float = INTERVAL_SECONDS) -> None:
    """Touches the file until cancelled; a stuck event loop stops touching it."""
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(interval)


def is_alive(path: Path, stale_after: float = STALE_AFTER_SECONDS) -> tuple[bool, str]:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: is `parley run` running?"
    if age > stale_after:
        return False, f"last heartbeat {age:.0f}s ago (more than {stale_after:.0f}s)"
    return True, f"alive: last heartbeat {age:.0f}s ago"
