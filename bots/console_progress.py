"""The terminal's line about a local model that is loading: live on a screen, one line in a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TextIO

TICK_SECONDS = 1.0


class ModelStartView:
    """Renders core's start events (core.local_model.StartWatcher) for a person waiting.

    On a terminal the line is rewritten in place with the time so far, then ends with how long
    the load took; in a pipe it is written once, in two pieces, so a log reads as one line.
    """

    def __init__(self, out: TextIO, *, tick_seconds: float = TICK_SECONDS) -> None:
        self._out = out
        self._live = out.isatty()
        self._tick_seconds = tick_seconds
        self._line = ""
        self._began = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._shown = False  # a line is open: started, not yet ended

    def starting(self, model: str) -> None:
        self._line = f"Starting the local model ({model})…"
        self._began = time.monotonic()
        self._shown = True
        self._write(self._line)
        if self._live:
            self._ticker = asyncio.create_task(self._tick(), name="model-start-ticker")

    def ready(self, model: str, seconds: float) -> None:
        self._end(f"ready in {seconds:.1f} s")

    def failed(self, model: str, error: Exception) -> None:
        self._end(f"failed after {time.monotonic() - self._began:.1f} s")

    def leave(self) -> None:
        """The turn that waited was stopped (Ctrl-C): the load goes on unseen, and the
        prompt that comes next must not be written over."""
        if self._shown:
            self._end("(it goes on loading in the background)")

    async def close(self) -> None:
        """Stops the ticker of a load the chat did not wait for (it was left mid-way)."""
        await self._stop_ticker()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            self._write(f"\r{self._line} {time.monotonic() - self._began:.0f} s")

    def _end(self, how: str) -> None:
        if not self._shown:
            return  # left already
        self._shown = False
        if self._ticker is not None:
            self._ticker.cancel()  # awaited by close(); it holds nothing
        # "\r" and the same words: the elapsed count written last is covered by the longer end.
        self._write(f"\r{self._line} {how}\n" if self._live else f" {how}\n")

    async def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()
