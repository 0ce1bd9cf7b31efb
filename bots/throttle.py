"""Edit budgets per channel: a platform's limit is per channel, never global (STYLE rule 7)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

Sleep = Callable[[float], Awaitable[None]]


class ChannelThrottle:
    """At most `edits` per `window` seconds in each channel, shared by all its replies.

    Discord allows about five message edits per five seconds per channel; two replies
    streaming in one channel share that, while other channels are not slowed at all.
    """

    def __init__(
        self,
        edits: int = 5,
        window: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._edits = edits
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._recent: dict[Hashable, deque[float]] = {}

    def delay(self, channel: Hashable, reserve: int = 0) -> float:
        """Seconds until the channel has an edit to spend, keeping `reserve` back (0: now)."""
        recent = self._recent.get(channel)
        allowed = self._edits - reserve
        if recent is None or len(recent) < allowed:
            return 0.0
        now = self._clock()
        live = [at for at in recent if at + self._window > now]
        if len(live) < allowed:
            return 0.0
        return max(0.0, live[len(live) - allowed] + self._window - now)

    async def acquire(self, channel: Hashable, reserve: int = 0) -> None:
        """Waits for a slot in the channel, then spends it.

        Streaming edits pass reserve=1 so a reply's final edit never waits: the last
        words show as soon as the model stops.
        """
        while (wait := self.delay(channel, reserve)) > 0:
            await self._sleep(wait)
        recent = self._recent.setdefault(channel, deque())
        now = self._clock()
        while recent and recent[0] + self._window <= now:
            recent.popleft()
        recent.append(now)
        if len(recent) > self._edits:
            recent.popleft()
        self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        # Channels quiet for a whole window hold nothing worth remembering.
        if len(self._recent) > 1024:
            idle = [c for c, r in self._recent.items() if not r or r[-1] + self._window <= now]
            for channel in idle:
                del self._recent[channel]
