"""Streams one reply into Discord: a message or an interaction response, edited within budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from bots.notes import summary_notes
from bots.split import split_message
from bots.throttle import ChannelThrottle
from core.errors import ParleyError
from core.types import TurnSummary

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000  # Discord's hard limit for message content
TYPING_REFRESH_SECONDS = 8.0  # a typing indicator lasts about ten seconds
# "Parley is typing…" only once the model has been silent this long: a fast first word
# needs no indicator, and under load every skipped call is CPU for someone else's reply.
TYPING_AFTER_SECONDS = 0.8
# Between a reply's streaming edits. Discord allows 5 edits per 5 s per channel (a thread
# is one); one a second still reads as streaming, keeps the bucket free for the final
# edit, and halves the calls of a fast stream.
STREAM_EDIT_SECONDS = 1.0


# discord.py retries a 500, 502 or 504 for 25 s but gives up on a 503 at once; the last
# edit of a reply is the one that must land, so it is tried again briefly on any 5xx.
FINAL_RETRY_DELAYS_SECONDS = (0.5, 1.5)


class DiscordDeliveryError(ParleyError):
    user_message = "I couldn't post my reply here; an admin should check Parley's log."

    def __init__(self, message: str, *, server_side: bool = False) -> None:
        super().__init__(message)
        self.server_side = server_side  # a 5xx: Discord's trouble, worth another try


class DiscordReplySink:
    """Posts the first part where `first` says, edits it as text arrives (spending the
    channel's shared edit budget), and continues long answers with `more`."""

    def __init__(
        self,
        *,
        channel_id: int,
        first: Callable[[str], Awaitable[discord.Message]],
        more: Callable[[str], Awaitable[discord.Message]],
        typing: Callable[[], Awaitable[None]] | None,
        throttle: ChannelThrottle,
        on_posted: Callable[[discord.Message], Awaitable[None]] | None = None,
    ) -> None:
        self._channel_id = channel_id
        self._first = first
        self._more = more
        self._typing = typing
        self._throttle = throttle
        self._on_posted = on_posted
        self._text = ""
        self._visible = False  # any non-blank text yet
        self._messages: list[discord.Message] = []
        self._shown: list[str] = []
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task[None] | None = None
        self._waiting_for_slot = False
        self._typing_task: asyncio.Task[None] | None = None
        self._synced_at = -STREAM_EDIT_SECONDS  # time.monotonic() of the last streaming sync

    async def start(self) -> None:
        if self._typing is not None:
            self._typing_task = asyncio.create_task(self._keep_typing(self._typing))

    async def append(self, text: str) -> None:
        self._text += text
        # Only the new piece is looked at: stripping the whole reply per token is quadratic.
        self._visible = self._visible or bool(text.strip())
        if self._visible and self._pending is None:
            # One edit in flight or waiting at a time; it picks up all text so far.
            self._pending = asyncio.create_task(self._sync_soon())

    async def finish(self, summary: TurnSummary) -> None:
        notes = "\n".join(f"-# {note}" for note in summary_notes(summary))
        body = "\n\n".join(part for part in (self._text.strip(), notes) if part)
        await self._final(body or "*(no answer)*")

    async def fail(self, error: ParleyError) -> None:
        notice = f"⚠️ {error.user_message}"
        text = self._text.strip()
        try:
            await self._final(f"{text}\n\n{notice}" if text else notice)
        except DiscordDeliveryError:
            if not isinstance(error, DiscordDeliveryError):
                raise

    async def say(self, text: str) -> None:
        await self._final(text)

    @property
    def shown(self) -> str:
        return "".join(self._shown)

    async def _final(self, body: str) -> None:
        await self._stop_typing()
        pending, self._pending = self._pending, None
        if pending is not None:
            if self._waiting_for_slot:
                # Still queued for a slot: superseded by this edit. One already sending is
                # awaited instead, since a post cut mid-flight could land unrecorded.
                pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        parts = split_message(body, MESSAGE_LIMIT)
        for delay in (*FINAL_RETRY_DELAYS_SECONDS, None):
            if parts[: len(self._shown)] != self._shown:
                # Only an edit spends the channel's budget: a reply already shown in full
                # (most short ones) must not queue behind other threads' edits.
                await self._throttle.acquire(self._channel_id)
            try:
                await self._sync(parts)
                return
            except DiscordDeliveryError as error:
                if not error.server_side:
                    raise
                if delay is None:
                    log.error(
                        "discord: %s in channel %s; gave up on the reply", error, self._channel_id
                    )
                    raise
                log.warning("discord: %s in channel %s; trying again", error, self._channel_id)
                await asyncio.sleep(delay)

    async def _sync_soon(self) -> None:
        try:
            if self._messages:  # posting the first words is not an edit: no slot needed
                self._waiting_for_slot = True
                # Text keeps arriving meanwhile; the edit takes all of it.
                await asyncio.sleep(self._synced_at + STREAM_EDIT_SECONDS - time.monotonic())
                await self._throttle.acquire(self._channel_id, reserve=1)
                self._waiting_for_slot = False
            self._synced_at = time.monotonic()
            await self._sync(split_message(self._text, MESSAGE_LIMIT))
        except Exception:
            log.debug("an intermediate edit failed; the final one tries again", exc_info=True)
        finally:
            self._waiting_for_slot = False
            if self._pending is asyncio.current_task():
                self._pending = None

    async def _sync(self, parts: list[str]) -> None:
        async with self._lock:
            try:
                for index, part in enumerate(parts):
                    if index < len(self._messages):
                        if self._shown[index] != part:
                            await self._messages[index].edit(content=part)
                            self._shown[index] = part
                        continue
                    send = self._first if not self._messages else self._more
                    posted = await send(part)
                    self._messages.append(posted)
                    self._shown.append(part)
                    if self._on_posted is not None:
                        # At once, not after the turn: people reply while it still streams.
                        await self._on_posted(posted)
            except discord.HTTPException as error:
                server_side = isinstance(error, discord.DiscordServerError)
                # A 5xx is retried by _final; it says so itself, and errors only if it gives up.
                log.log(
                    logging.DEBUG if server_side else logging.ERROR,
                    explain(error, self._channel_id),
                )
                raise DiscordDeliveryError(str(error), server_side=server_side) from error

    async def _keep_typing(self, typing: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(TYPING_AFTER_SECONDS)
        with contextlib.suppress(discord.HTTPException):
            while not self._messages:
                await typing()
                await asyncio.sleep(TYPING_REFRESH_SECONDS)

    async def _stop_typing(self) -> None:
        task, self._typing_task = self._typing_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def explain(error: discord.HTTPException, channel_id: int) -> str:
    """One log line an admin can act on."""
    if isinstance(error, discord.Forbidden) and error.code == 50013:
        return (
            f"discord: missing permissions in channel {channel_id}: grant the bot "
            "View Channel, Send Messages, Send Messages in Threads, Create Public Threads "
            "and Read Message History there"
        )
    return f"discord: {error.status} {error.text or error} in channel {channel_id}"
