"""Streams one reply into a Slack thread: a post, edits at most about once a second, splits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.notes import summary_notes
from bots.slack.errors import SlackDeliveryError, error_code, explain
from bots.split import split_message
from core.errors import ParleyError
from core.types import TurnSummary

log = logging.getLogger(__name__)

# markdown_text takes 12,000 characters, but long Slack messages collapse behind
# "Show more"; under 4,000 each part of a long answer stays readable on its own.
MESSAGE_LIMIT = 3900
EDIT_INTERVAL_SECONDS = 1.0
# Shown only if the model has said nothing by then: a fast first token goes straight out,
# saving a call and keeping the post off the path to the model request.
PLACEHOLDER_DELAY_SECONDS = 0.8
PLACEHOLDER = "_Thinking…_"


class SlackReplySink:
    """One reply in one thread; the engine serializes turns, so edits stay per conversation."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str | None,  # None: reply at the top level (a DM)
        bot_name: str,
        token_var: str,
        placeholder: bool = True,
        interval: float = EDIT_INTERVAL_SECONDS,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._bot_name = bot_name
        self._token_var = token_var
        self._placeholder = placeholder
        self._interval = interval
        self._text = ""
        self._visible = False  # any non-blank text yet
        self._shown: list[str] = []  # what each posted message shows now
        self._posted_ts: list[str] = []
        self._last_text_sync = 0.0  # the placeholder does not count: text must not wait
        self._timer: asyncio.Task[None] | None = None  # set only while it is sleeping
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._reported: set[str] = set()

    async def start(self) -> None:
        if self._placeholder:
            self._timer = self._spawn(self._placeholder_later())

    async def _placeholder_later(self) -> None:
        await asyncio.sleep(PLACEHOLDER_DELAY_SECONDS)
        self._timer = None
        if not self._posted_ts:
            with contextlib.suppress(Exception):  # the final sync reports delivery failures
                await self._sync([PLACEHOLDER])

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        # A strong reference: the loop keeps only weak ones to running tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def append(self, text: str) -> None:
        self._text += text
        # Only the new piece is looked at: stripping the whole reply per token is quadratic.
        self._visible = self._visible or bool(text.strip())
        if not self._visible:
            return
        if self._timer is not None and not self._posted_ts:
            await self._cancel_timer()  # text beat the placeholder: skip it
        # The first words show at once; after that, edits come at most once per interval.
        wait = self._last_text_sync + self._interval - time.monotonic()
        if wait <= 0 and self._timer is None:
            await self._sync(split_message(self._text, MESSAGE_LIMIT))
        elif self._timer is None:
            self._timer = self._spawn(self._sync_later(wait))

    async def finish(self, summary: TurnSummary) -> None:
        notes = "\n".join(f"_({note})_" for note in summary_notes(summary))
        body = "\n\n".join(part for part in (self._text.strip(), notes) if part)
        await self._final(body or "_(no answer)_")

    async def fail(self, error: ParleyError) -> None:
        notice = f"_:warning: {error.user_message}_"
        text = self._text.strip()
        try:
            await self._final(f"{text}\n\n{notice}" if text else notice)
        except SlackDeliveryError:
            if not isinstance(error, SlackDeliveryError):
                raise
            # Slack refused the reply itself; the notice cannot get through either, and
            # the reason is already in the log.

    async def say(self, text: str) -> None:
        await self._final(text)

    @property
    def shown(self) -> str:
        return "".join(self._shown) if self._shown != [PLACEHOLDER] else ""

    async def _final(self, body: str) -> None:
        await self._cancel_timer()
        await self._sync(split_message(body, MESSAGE_LIMIT))

    async def _cancel_timer(self) -> None:
        # _timer is only set while its task sleeps, so this never cuts a call short.
        sleeping, self._timer = self._timer, None
        if sleeping is not None:
            sleeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sleeping

    async def _sync_later(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))
        # Past this point _final no longer cancels the task: a post cut off mid-flight
        # could land in Slack unrecorded and be posted twice. _final waits on the lock.
        self._timer = None
        try:
            await self._sync(split_message(self._text, MESSAGE_LIMIT))
        except Exception:
            log.debug("an intermediate edit failed; the final one tries again", exc_info=True)

    async def _sync(self, parts: list[str]) -> None:
        """Make the thread show `parts`: edit what changed, post what is new."""
        async with self._lock:
            if parts != [PLACEHOLDER]:
                self._last_text_sync = time.monotonic()
            try:
                for index, part in enumerate(parts):
                    if index < len(self._posted_ts):
                        if self._shown[index] != part:
                            await self._client.chat_update(
                                channel=self._channel,
                                ts=self._posted_ts[index],
                                markdown_text=part,
                            )
                            self._shown[index] = part
                        continue
                    response = await self._client.chat_postMessage(
                        channel=self._channel, thread_ts=self._thread_ts, markdown_text=part
                    )
                    self._posted_ts.append(str(response["ts"]))
                    self._shown.append(part)
            except SlackApiError as error:
                code = error_code(error)
                # One line per problem and reply: the notice about a failed post fails the
                # same way, and the admin needs to read it once.
                if code not in self._reported:
                    self._reported.add(code)
                    where = f"channel {self._channel}"
                    log.error(
                        explain(error, bot=self._bot_name, token_var=self._token_var, where=where)
                    )
                raise SlackDeliveryError(code) from error
