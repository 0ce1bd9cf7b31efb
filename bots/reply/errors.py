"""A reply the platform did not take, whatever the reason: refused, failing or unreachable;
and waiting for a task a reply owns."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp

from core.errors import ParleyError

if TYPE_CHECKING:
    from bots.reply.binding import ReplyBinding

# Under the streamed reply's name: its refusals are the reply's log lines, as ever.
log = logging.getLogger("bots.reply.stream")

# What a dropped or reset connection raises from slack_sdk's and discord.py's calls: these
# libraries let aiohttp's and the socket's own errors through untranslated.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)

CONNECTION_LOST = (
    "I lost the connection while posting my reply, so it may be cut short. Please try again."
)


class DeliveryError(ParleyError):
    """The platform did not show what the reply posted or edited.

    `transient`: the platform's trouble (a 5xx, a dropped connection), worth another try.
    Each platform names its own subclass, with the words its users see.
    """

    user_message = "I couldn't post my reply here; an admin should check Parley's log."

    def __init__(
        self, detail: str, *, transient: bool = False, user_message: str | None = None
    ) -> None:
        super().__init__(detail, user_message=user_message)
        self.transient = transient


class Undelivered:
    """Turns what a post or edit raised into the platform's DeliveryError: its refusal
    (logged once per problem and reply: the admin must read it, and read it once) or a lost
    connection; None for anything else, a bug."""

    def __init__(self, binding: ReplyBinding[Any]) -> None:
        self._binding = binding
        self._reported: set[str] = set()

    def __call__(self, error: Exception) -> DeliveryError | None:
        if isinstance(error, DeliveryError):
            return error
        refusal = self._binding.refusal(error)
        if refusal is not None:
            if not refusal.transient and refusal.detail not in self._reported:
                self._reported.add(refusal.detail)
                log.error(refusal.detail)
            return self._binding.undelivered(refusal.detail, transient=refusal.transient)
        if isinstance(error, TRANSPORT_ERRORS):
            # The turn's own log line names the conversation; this is not worth a traceback.
            detail = f"connection lost: {type(error).__name__}: {error}"
            return self._binding.undelivered(detail, transient=True, user_message=CONNECTION_LOST)
        return None


async def reap(task: asyncio.Task[None], *, cancelled_it: bool) -> None:
    """Waits for a task a reply owns. A cancellation ends here only if the reply caused it;
    the caller's own goes on. The caller may be cleaning up after a cancellation already (a
    shutdown's notice), so only one that arrives during this wait counts as its own."""
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    try:
        await task
    except asyncio.CancelledError:
        if not cancelled_it or current is None or current.cancelling() > before:
            raise
