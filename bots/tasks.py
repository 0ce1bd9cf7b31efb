"""The turns an adapter starts: each in its own task, owned until it ends or is drained."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# limits.shutdown_seconds's default, for adapters built without `parley run` (tests, benches).
SHUTDOWN_GRACE_SECONDS = 8.0

OnError = Callable[[], Awaitable[None]]


@dataclass
class Shutdown:
    """One stop of `parley run`, shared by its bots: how long replies in flight may take to
    finish, and what became of them (for the one line the stop logs)."""

    grace: float = SHUTDOWN_GRACE_SECONDS
    finished: int = 0
    cut: int = 0


class TurnTasks:
    """A failure stays inside its task and becomes one log line naming the conversation and,
    where the platform still answers, one short reply (`on_error`)."""

    def __init__(self, shutdown: Shutdown | None = None) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._shutdown = shutdown or Shutdown()

    def start(
        self, work: Coroutine[Any, Any, object], *, key: str, on_error: OnError | None = None
    ) -> asyncio.Task[None]:
        if self._closed:
            work.close()
            raise RuntimeError("the bot is shutting down")
        task = asyncio.create_task(_guarded(work, key, on_error), name=f"turn:{key}")
        # A strong reference: the loop keeps only weak ones to running tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self) -> int:
        """Waits up to the shutdown's grace for running turns, then cuts the rest; returns
        how many were cut. New turns are refused from the start of the wait."""
        self._closed = True
        running = set(self._tasks)
        if not running:
            return 0
        _, late = await asyncio.wait(running, timeout=self._shutdown.grace)
        for task in late:
            task.cancel()
        # Each cut turn records itself and tells its thread before it ends.
        await asyncio.gather(*late, return_exceptions=True)
        self._shutdown.finished += len(running) - len(late)
        self._shutdown.cut += len(late)
        return len(late)


async def _guarded(work: Coroutine[Any, Any, object], key: str, on_error: OnError | None) -> None:
    try:
        await work
    except Exception as error:
        log.error("turn %s failed: %s: %s", key, type(error).__name__, error)
        log.debug("turn %s failed", key, exc_info=True)
        if on_error is None:
            return
        try:
            await on_error()
        except Exception as second:
            log.debug("turn %s: the error notice failed too: %s", key, second)


# How long, past the replies' grace, a stopped bot may take to close before it is told again.
CLOSE_MARGIN_SECONDS = 5.0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], patience: float) -> None:
    """Cancels every task and waits until all have ended. A task still running `patience`
    seconds later is cancelled again, once a second: discord.py's reconnect loop can swallow
    a cancellation (Python 3.11's asyncio.wait_for drops one that races its timeout), and
    would then reconnect forever while `parley run` waits to stop."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    wait = patience
    while pending:
        _, pending = await asyncio.wait(pending, timeout=wait)
        for task in pending:
            log.warning("task %s ignored its cancellation; cancelling it again", task.get_name())
            task.cancel()
        wait = 1.0
