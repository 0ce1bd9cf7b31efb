"""The event loop a Parley process runs on: uvloop where it is installed, else asyncio's own.

A streamed reply wakes the process once per network read; uvloop's loop and sockets (libuv,
in C) cost a fraction of asyncio's pure-Python ones per wake-up. PARLEY_EVENT_LOOP=asyncio
keeps the standard loop, for an operator who suspects the loop or a platform without uvloop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from core.errors import ParleyError

T = TypeVar("T")
LOOPS = ("uvloop", "asyncio")


class UnknownEventLoop(ParleyError):
    """PARLEY_EVENT_LOOP names no loop Parley knows."""


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` to its end, as asyncio.run does, on the loop this process should use."""
    chosen = os.environ.get("PARLEY_EVENT_LOOP", "").strip().lower() or "uvloop"
    if chosen not in LOOPS:
        main.close()  # never started: closed, so no "never awaited" warning follows
        # A typo must not quietly run the loop the operator meant to leave.
        raise UnknownEventLoop(f"PARLEY_EVENT_LOOP must be uvloop or asyncio, not {chosen!r}")
    if chosen == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
