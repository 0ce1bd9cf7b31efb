"""Polling and deadlines for tests whose effects land asynchronously."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 30.0,  # noqa: ASYNC109  (a polling loop, not a wrapped await)
    message: str | None = None,
) -> None:
    """Returns once `predicate()` is true; polls every 10 ms; AssertionError after `timeout` s,
    a guard against a hung test that a loaded machine never reaches."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"condition not met within {timeout} s: {what}")
        await asyncio.sleep(0.01)


async def wait_for_state(
    predicate: Callable[[], Awaitable[bool]],
    timeout: float = 30.0,  # noqa: ASYNC109  (a polling loop, not a wrapped await)
    message: str = "",
) -> None:
    """Like wait_until, for a condition that must read (say, the store) to be answered."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"condition not met within {timeout} s: {what}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def deadline(seconds: float, what: str) -> AsyncIterator[None]:
    """Like asyncio.timeout, but a miss fails the test with an AssertionError naming `what`."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise AssertionError(f"{what} within {seconds} s") from None
