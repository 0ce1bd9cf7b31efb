"""Arrival order per conversation: messages are stored, then answered, in the order they
came; different conversations never wait for each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class Place:
    """One message's place in its conversation's line.

    `stored()` waits until every earlier message is stored, `answerable()` until every
    earlier one is answered (or given up). Holding a place costs nothing while it waits.
    """

    def __init__(self, before: Place | None) -> None:
        self._before = before
        self._stored = asyncio.Event()
        self._done = asyncio.Event()

    async def stored(self) -> None:
        # The whole line ahead, not only the one just before: a message that was not
        # Parley's to answer leaves at once, while the one before it may still be storing.
        ahead = self._before
        while ahead is not None:
            await ahead._stored.wait()
            ahead = ahead._before

    def mark_stored(self) -> None:
        self._stored.set()

    async def answerable(self) -> None:
        ahead = self._before
        while ahead is not None:
            await ahead._done.wait()
            ahead = ahead._before
        self._before = None  # everything ahead is over: keep none of it alive

    def leave(self) -> None:
        self._stored.set()
        self._done.set()


class ArrivalOrder:
    """Hands out places per key; a key with nobody in line holds no memory."""

    def __init__(self) -> None:
        self._last: dict[Hashable, Place] = {}

    @asynccontextmanager
    async def place(self, key: Hashable) -> AsyncIterator[Place]:
        # Taken before the first await: tasks started in arrival order line up in it.
        place = Place(self._last.get(key))
        self._last[key] = place
        try:
            yield place
        finally:
            place.leave()
            if self._last.get(key) is place:
                del self._last[key]

    def __len__(self) -> int:
        return len(self._last)
