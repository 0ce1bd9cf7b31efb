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

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` to its end, as asyncio.run does, on the loop this process should use."""
    if os.environ.get("PARLEY_EVENT_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
