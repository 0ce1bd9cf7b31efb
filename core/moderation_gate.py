"""Releases a streamed reply to the user only after moderation has passed it, segment by segment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self

from core.errors import ContentFlagged

Release = Callable[[str], Awaitable[None]]
# Checks the reply so far: True when it passed, False when it went unchecked; raises
# ContentFlagged when flagged.
Screen = Callable[[str], Awaitable[bool]]

# A segment ends at a paragraph break, or at a word break once enough text is waiting:
# FIRST_SEGMENT_CHARS at first, so the user sees the reply start soon, then as much as was
# cut before (segments double), up to SEGMENT_CHARS.
FIRST_SEGMENT_CHARS = 80
SEGMENT_CHARS = 300


class ReplyGate(Protocol):
    """Between the model's stream and the sink: `feed` every delta, then `finish` once."""

    async def feed(self, text: str) -> None: ...

    async def finish(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class OpenGate:
    """No output moderation: every delta goes straight to the user."""

    def __init__(self, release: Release) -> None:
        self._release = release

    async def feed(self, text: str) -> None:
        await self._release(text)

    async def finish(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def segment_end(text: str, before: int = 0) -> int:
    """Where the text waiting to be checked may be cut, `before` characters having been cut
    already; 0: wait for more."""
    paragraph = text.rfind("\n\n")
    if paragraph >= 0:
        return paragraph + 2
    if len(text) < min(SEGMENT_CHARS, max(FIRST_SEGMENT_CHARS, before)):
        return 0
    space = max(text.rfind(" "), text.rfind("\n"))
    return space + 1 if space > 0 else len(text)


class CheckedGate:
    """Withholds text until checked; checks run in a task while the model keeps writing.

    Every check sees the whole reply so far, so a flag that needs context is not lost at a
    segment edge; segments that pile up during a slow check go out together after one check.
    A flagged check stops the release for good: `feed` and `finish` raise ContentFlagged.
    """

    def __init__(self, screen: Screen, release: Release) -> None:
        self._screen = screen
        self._release = release
        self._shown = ""  # checked and released
        self._ready = ""  # cut at a segment end, waiting for a check
        self._tail = ""  # not yet at a segment end
        self._unchecked = False  # a check could not be made: the rest goes out (fail-open)
        self._closed = False
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._flag: ContentFlagged | None = None

    async def feed(self, text: str) -> None:
        self._raise_if_stopped()
        self._tail += text
        cut = segment_end(self._tail, len(self._shown) + len(self._ready))
        if cut:
            self._ready += self._tail[:cut]
            self._tail = self._tail[cut:]
            self._kick()

    async def finish(self) -> None:
        self._ready += self._tail
        self._tail = ""
        self._closed = True
        self._kick()
        assert self._worker is not None
        await self._worker
        self._raise_if_stopped()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        worker = self._worker
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def _raise_if_stopped(self) -> None:
        if self._flag is not None:
            raise self._flag
        if self._worker is not None and self._worker.done():
            self._worker.result()  # the sink failed: its error ends the turn

    def _kick(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="moderation-gate")
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._ready:
                segment, self._ready = self._ready, ""
                if not self._unchecked:
                    try:
                        self._unchecked = not await self._screen(self._shown + segment)
                    except ContentFlagged as flagged:
                        self._flag = flagged
                        return
                self._shown += segment
                await self._release(segment)
            if self._closed:
                return
