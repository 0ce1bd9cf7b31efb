"""Stopping tasks that do not stop when told once."""

from __future__ import annotations

import asyncio
import contextlib

from bots.tasks import cancel_and_wait


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again() -> None:
    swallowed = asyncio.Event()
    started = [asyncio.Event(), asyncio.Event()]

    async def reconnecting_forever() -> None:
        # As discord.py's reconnect loop does when wait_for drops a cancellation.
        with contextlib.suppress(asyncio.CancelledError):
            started[0].set()
            await asyncio.Event().wait()
        swallowed.set()
        await asyncio.Event().wait()

    async def waiting() -> None:
        started[1].set()
        await asyncio.Event().wait()

    stubborn = asyncio.create_task(reconnecting_forever())
    polite = asyncio.create_task(waiting())
    for event in started:
        await event.wait()
    await cancel_and_wait([stubborn, polite], patience=0.05)
    assert swallowed.is_set()
    assert stubborn.cancelled() and polite.cancelled()
