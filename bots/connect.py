"""Keeping a bot connecting while its platform is unreachable: retried with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FIRST_WAIT = 1.0  # seconds before the second attempt; doubled after each failure
LONGEST_WAIT = 60.0


async def keep_connecting(
    name: str,
    serve: Callable[[], Awaitable[None]],
    unreachable: tuple[type[BaseException], ...],
) -> None:
    """Runs `serve` (connect, then serve until cancelled) again each time it fails with one
    of the `unreachable` errors: a network not up yet at boot, a platform down for a while.

    Any other error (a rejected token, a refused intent) ends it at once: retrying cannot fix
    it, and the caller reports it in one line. A run that served longer than the longest wait
    starts the backoff afresh, so a bot that was up for a day reconnects quickly.
    """
    failures = 0
    while True:
        started = time.monotonic()
        try:
            await serve()
            return
        except unreachable as error:
            if time.monotonic() - started > LONGEST_WAIT:
                failures = 0
            failures += 1
            # Jittered, so several bots (or processes) do not knock in step.
            wait = min(LONGEST_WAIT, FIRST_WAIT * 2 ** (failures - 1)) * random.uniform(0.8, 1.2)
            log.warning(
                "bot %s cannot connect (attempt %d): %s: %s; retrying in %.1f s",
                name,
                failures,
                type(error).__name__,
                str(error)[:200],
                wait,
            )
            await asyncio.sleep(wait)
