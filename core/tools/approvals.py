"""Tool calls waiting for a person's Approve or Deny: one decision each, by the right person."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.errors import ParleyError
from core.types import (
    ApprovalClick,
    ApprovalRequest,
    ApprovalResult,
    ApprovalSettled,
    Author,
    ConversationKey,
)

log = logging.getLogger("core.tools")

# Decisions remembered after they were made, so a doubled or late click is told "already
# decided" (or "expired") rather than "unknown".
REMEMBERED = 4096
# Long enough for one edit; a turn that ends must not wait on a platform that is down.
SETTLE_SECONDS = 5.0


class ApprovalSurface(Protocol):
    """Where a request is shown: the ReplySink's approval half."""

    async def ask_approval(self, request: ApprovalRequest) -> None: ...

    async def approval_settled(self, settled: ApprovalSettled) -> None: ...


@dataclass(frozen=True, slots=True)
class _Place:
    bot: str
    platform: str
    workspace: str
    channel: str


@dataclass(slots=True)
class _Waiting:
    request: ApprovalRequest
    place: _Place
    key: ConversationKey
    decision: asyncio.Future[tuple[bool, str]]  # (approved, by whom)


class Approvals:
    """Requests waiting in this process, and the decisions made lately."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._waiting: dict[str, _Waiting] = {}
        self._ended: OrderedDict[str, ApprovalResult] = OrderedDict()

    async def ask(
        self, bot: str, key: ConversationKey, tool: str, arguments: str, asked_by: Author,
        sink: ApprovalSurface, seconds: float,
    ) -> ApprovalSettled:  # fmt: skip
        """Posts the request and waits for a decision, at most `seconds` (then expired).
        A cancelled turn settles it as cancelled before the cancellation goes on."""
        expires = self._clock() + timedelta(seconds=seconds)
        request = ApprovalRequest(secrets.token_urlsafe(12), tool, arguments, asked_by, expires)
        place = _Place(bot, key.platform, key.workspace, key.channel)
        waiting = _Waiting(request, place, key, asyncio.get_running_loop().create_future())
        self._waiting[request.id] = waiting
        settled = ApprovalSettled(request, "cancelled")
        try:
            await sink.ask_approval(request)
            async with asyncio.timeout(seconds):
                approved, by = await waiting.decision
            settled = ApprovalSettled(request, "approved" if approved else "denied", by)
        except TimeoutError:
            settled = ApprovalSettled(request, "expired")
        finally:
            del self._waiting[request.id]
            self._remember(request.id, _ended_as(settled))
            await _shown(sink, settled)
        return settled

    def knows(self, approval_id: str) -> bool:
        """Whether this process asked the request: it waits here, or ended here lately."""
        return approval_id in self._waiting or approval_id in self._ended

    def click(self, click: ApprovalClick) -> ApprovalResult:
        """Decides a waiting request once; every other click is refused with a reason."""
        waiting = self._waiting.get(click.approval_id)
        if waiting is None:
            return self._ended.get(click.approval_id, "unknown")
        place = _Place(click.bot, click.platform, click.workspace, click.channel)
        if place != waiting.place:
            return "unknown"  # an id carried to another thread is no request there
        if click.user_id != waiting.request.asked_by.id and not click.admin:
            return "not_allowed"
        if waiting.decision.done():
            return "decided"
        waiting.decision.set_result((click.approve, click.user_name or click.user_id))
        return "approved" if click.approve else "denied"

    def withdraw(self, key: ConversationKey, by: str) -> int:
        """Denies every request the conversation's turns wait on, as `by`: a reset waits for
        those turns, and must not wait for a click that may never come."""
        withdrawn = 0
        for waiting in self._waiting.values():
            if waiting.key == key and not waiting.decision.done():
                waiting.decision.set_result((False, by))
                withdrawn += 1
        return withdrawn

    def _remember(self, request_id: str, result: ApprovalResult) -> None:
        self._ended[request_id] = result
        while len(self._ended) > REMEMBERED:
            self._ended.popitem(last=False)


def _ended_as(settled: ApprovalSettled) -> ApprovalResult:
    return "expired" if settled.decision == "expired" else "decided"


async def _shown(sink: ApprovalSurface, settled: ApprovalSettled) -> None:
    """The request's message says how it ended; a platform that refuses is only logged."""
    try:
        async with asyncio.timeout(SETTLE_SECONDS):
            await asyncio.shield(sink.approval_settled(settled))
    except (ParleyError, TimeoutError) as error:
        log.warning("approval %s: its message could not be updated: %s", settled.request.id, error)
