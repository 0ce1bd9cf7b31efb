"""The one streaming reply: what shows, when it changes, how it splits, what a failure says."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic

from bots.notes import summary_notes
from bots.reply.approvals import ApprovalMessages
from bots.reply.binding import Message, ReplyBinding, Show
from bots.reply.document import ReplyDocument
from bots.reply.errors import DeliveryError, Undelivered, reap
from bots.reply.tool_text import progress_text
from bots.split import closing_fence, split_message
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled, ToolStep, TurnSummary

log = logging.getLogger(__name__)


class StreamedReply(Generic[Message]):
    """A ReplySink for any platform: posts the first words at once, edits at most once per
    interval within the platform's edit budget, splits at its limit and edits only the parts
    that changed; the last edit is tried again on the platform's own trouble.

    Every post and edit goes through `_sync` under one lock, so a reply's messages change in
    order and `shown` is always what the platform took. Tool steps are lines in the same
    messages (see ReplyDocument); approval requests are messages of their own beside it.
    """

    def __init__(self, binding: ReplyBinding[Message]) -> None:
        self._binding = binding
        self._pacing = binding.pacing
        self._document = ReplyDocument(binding.limit, live_steps=binding.live_steps)
        # The platform's refusals and lost connections as its DeliveryError, each refusal
        # logged once per reply.
        self._undelivered = Undelivered(binding)
        self._approvals = ApprovalMessages(binding, self._undelivered)
        self._messages: list[Message] = []
        self._shown: list[str] = []  # what each posted message shows now
        self._placeholder: str | None = None  # shown while the model is silent, not text
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task[None] | None = None  # the one streaming sync at a time
        self._queued = False  # the pending sync has not begun to send: cut it freely
        self._waiting: asyncio.Task[None] | None = None
        self._placing = False  # the waiting task is posting a placeholder: do not cut it
        self._synced_at = float("-inf")
        self._retrying = False  # a streaming sync failed: the next one waits its interval too
        self._stalled = False  # the platform refused for good: only the final sync tries
        self._rated_at: int | None = None  # the message that shows the feedback buttons
        self._closed = 0  # the messages, in order, the last sync has closed

    async def start(self) -> None:
        if self._pacing.waiting is not None:
            self._waiting = asyncio.create_task(self._wait_for_words(self._pacing.waiting))

    async def append(self, text: str) -> None:
        # Per piece, only the piece is looked at: anything over the whole reply per token
        # would make a long reply's cost grow with the square of its length.
        self._document.add_text(text)
        await self._changed()

    async def step(self, step: ToolStep) -> None:
        """A tool step's line shows, or changes, with the same pacing as the text."""
        if self._document.set_step(step):
            await self._changed()
        if not self._binding.live_steps:
            # The progress status supersedes the waiting one ("is thinking…"), which must
            # not come after it and hide it.
            await self._stop_waiting()
            try:
                await self._binding.progress(progress_text(self._document.steps()))
            except Exception as error:
                # A status line is a courtesy; the step's line comes when it ends.
                log.debug("no tool progress status: %s: %s", type(error).__name__, error)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        await self._approvals.ask(request)

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        await self._approvals.settled(settled)

    async def _changed(self) -> None:
        """What the reply shows changed: the first of it posts at once, the rest as one
        paced edit."""
        if not self._document.visible:
            return
        if self._waiting is not None:
            await self._stop_waiting()
        if self._pending is not None or self._stalled:
            return
        if not self._messages and not self._retrying:
            # The first words show at once, before the model says more.
            refused = await self._sync_text()
            if refused is not None and not refused.transient:
                # Nothing will ever show here (no access, no channel): the turn stops, so the
                # model does not go on writing, and billing, for nobody.
                raise refused
            return
        # One edit waiting or under way at a time; it takes all the text there is by then.
        self._queued = True
        self._pending = asyncio.create_task(self._sync_soon())

    async def finish(self, summary: TurnSummary) -> None:
        notes = summary_notes(summary)
        rendered = self._binding.style.notes(notes) if notes else ""
        body = "\n\n".join(part for part in (self._closed_text(), rendered) if part)
        rated = summary.reply_id if self._binding.feedback else None
        await self._final(body or self._binding.style.empty, rated=rated)

    async def fail(self, error: ParleyError) -> None:
        notice = self._binding.style.notice(error)
        text = self._closed_text()
        try:
            await self._final(f"{text}\n\n{notice}" if text else notice)
        except DeliveryError:
            if not isinstance(error, DeliveryError):
                raise
            # The platform refused the reply itself; the notice fails the same way.

    async def say(self, text: str) -> None:
        await self._final(text)

    def _closed_text(self) -> str:
        """The reply (its text and step lines) with the code block it leaves open (a model
        cut off, or one that never closed it) closed: what follows it, notes or a notice,
        must not show as code."""
        text = self._document.rendered().strip()
        return text + closing_fence(text, self._binding.limit) if text else text

    @property
    def shown(self) -> str:
        if self._placeholder is not None and self._shown == [self._placeholder]:
            return ""
        if not self._document.has_steps:
            return "".join(self._shown)
        # Step lines are not the model's words: what is left is the text the user saw.
        text = "".join(self._document.without_steps(part) for part in self._shown)
        return text if text.strip() else ""

    async def _final(self, body: str, *, rated: int | None = None) -> None:
        await self._stop_waiting()
        await self._settle_pending()
        parts = split_message(body, self._binding.limit)
        try:
            await self._sync_with_retries(parts, rated)
        except DeliveryError as undelivered:
            await self._tell_cut_short(undelivered)
            raise

    async def _sync_with_retries(self, parts: list[str], rated: int | None) -> None:
        pacing = self._pacing
        if self._buttons_wait(parts, rated):
            log.debug("no edit free for the feedback buttons; the reply goes without")
            rated = None
        for delay in (*pacing.final_retry_delays, None):
            if self._edits_needed(parts, rated):
                # Only an edit spends the budget: a reply already shown in full (most short
                # ones) must not queue behind other replies' edits.
                await pacing.budget.acquire(pacing.budget_key)
            try:
                await self._sync(parts, final=True, rated=rated)
                return
            except DeliveryError as error:
                if not error.transient or delay is None:
                    raise
                log.info("%s; trying the reply's last edit again", error)
                await pacing.sleep(delay)

    def _buttons_wait(self, parts: list[str], rated: int | None) -> bool:
        """Buttons alone are worth an edit only when one is free now: they never make other
        replies' words wait (a busy Slack workspace shares 50 edits a minute)."""
        if rated is None or self._text_changes(parts) or not self._edits_needed(parts, rated):
            return False
        return self._pacing.budget.delay(self._pacing.budget_key, self._pacing.reserve) > 0

    def _edits_needed(self, parts: list[str], rated: int | None) -> bool:
        """Whether showing `parts` edits a posted message: changed text, or the buttons to
        add under a last message that is posted already."""
        last = len(parts) - 1
        buttons_due = rated is not None and last < len(self._shown) and self._rated_at != last
        return buttons_due or self._text_changes(parts)

    def _text_changes(self, parts: list[str]) -> bool:
        """Whether `parts` changes the text of a message posted already."""
        return parts[: len(self._shown)] != self._shown

    async def _tell_cut_short(self, undelivered: DeliveryError) -> None:
        """Where earlier words got through, the platform may still take one short line."""
        if not self._messages or not undelivered.transient:
            return
        try:
            notice = self._binding.style.notice(undelivered)
            async with self._lock:
                message = await self._binding.post(notice, first=False, final=True)
                await self._binding.close(message, notice, changed=False, last=False)
        except Exception as error:
            if self._undelivered(error) is None:
                raise
            log.debug("the notice of a cut reply did not get through either: %s", error)

    async def _sync_soon(self) -> None:
        pacing = self._pacing
        try:
            # An edit (or a retry): text keeps arriving meanwhile, and this takes it all.
            due = self._synced_at + pacing.edit_interval
            await pacing.sleep(max(0.0, due - pacing.clock()))
            if self._messages:
                await pacing.budget.acquire(pacing.budget_key, reserve=pacing.reserve)
            self._queued = False
            await self._sync_text()
        finally:
            self._queued = False
            if self._pending is asyncio.current_task():
                self._pending = None

    async def _sync_text(self) -> DeliveryError | None:
        """The text so far onto the platform; a refusal is returned, for the final sync to
        try again."""
        self._synced_at = self._pacing.clock()
        try:
            await self._sync(self._document.parts())
        except DeliveryError as error:
            self._retrying = True
            self._stalled = not error.transient
            log.debug("a streaming sync failed; the final one tries again: %s", error)
            return error
        return None

    async def _settle_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        # Still waiting to start: the final sync supersedes it. One already sending is
        # awaited instead, since a post cut mid-flight could land unrecorded.
        cut = self._queued
        if cut:
            pending.cancel()
        await reap(pending, cancelled_it=cut)

    async def _wait_for_words(self, waiting: Callable[[Show], Awaitable[None]]) -> None:
        try:
            await waiting(self._show_placeholder)
        except Exception as error:
            # A typing indicator or a placeholder is a courtesy; the reply goes on without.
            log.debug("no waiting indicator: %s: %s", type(error).__name__, error)

    async def _show_placeholder(self, text: str) -> None:
        if self._document.visible or self._messages:
            return
        self._placing = True
        try:
            await self._sync([text], placeholder=True)
        finally:
            self._placing = False

    async def _stop_waiting(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return
        cut = not self._placing
        if cut:
            waiting.cancel()
        await reap(waiting, cancelled_it=cut)

    async def _sync(
        self,
        parts: list[str],
        *,
        placeholder: bool = False,
        final: bool = False,
        rated: int | None = None,
    ) -> None:
        """Make the platform show `parts`: edit the messages that changed, post the new ones;
        the `final` sync closes each message too, and with `rated` the last one shows the
        feedback buttons."""
        async with self._lock:
            if placeholder and (self._document.visible or self._messages):
                return  # the words beat the placeholder
            last = len(parts) - 1
            try:
                for index, part in enumerate(parts):
                    buttons = rated if index == last else None
                    changed = index < len(self._messages) and self._shown[index] != part
                    if index >= len(self._messages):
                        await self._post(part, final=final, rated=buttons)
                    elif changed and not final:
                        await self._binding.edit(self._messages[index], part)
                        self._shown[index] = part
                    unrated = buttons is not None and self._rated_at != index
                    if final and (changed or index >= self._closed or unrated):
                        await self._binding.close(
                            self._messages[index],
                            part,
                            changed=changed,
                            last=index == last,
                            rated=buttons if unrated else None,
                        )
                        self._shown[index] = part
                        self._closed = max(self._closed, index + 1)
                        self._rated_at = index if unrated else self._rated_at
            except Exception as error:
                undelivered = self._undelivered(error)
                if undelivered is None:
                    raise
                raise undelivered from error
            if placeholder:
                self._placeholder = parts[0]

    async def _post(self, part: str, *, final: bool, rated: int | None = None) -> None:
        message = await self._binding.post(part, first=not self._messages, final=final, rated=rated)
        self._messages.append(message)
        self._shown.append(part)
        if rated is not None:
            self._rated_at = len(self._messages) - 1
        # At once, not after the turn: people answer while it still streams.
        await self._binding.posted(message)
