"""A reply's approval requests: each a message of its own with Approve / Deny, then its end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic

from bots.reply.binding import Message, ReplyBinding
from bots.reply.errors import DeliveryError
from bots.reply.tool_text import decision_text
from core.types import ApprovalRequest, ApprovalSettled

Undelivered = Callable[[Exception], DeliveryError | None]


@dataclass(frozen=True, slots=True)
class _Posted(Generic[Message]):
    message: Message
    asked_at: datetime


class ApprovalMessages(Generic[Message]):
    """Posts each request through the binding and edits the same message when it ends; a
    platform's refusal becomes its DeliveryError, as for the reply itself."""

    def __init__(self, binding: ReplyBinding[Message], undelivered: Undelivered) -> None:
        self._binding = binding
        self._undelivered = undelivered
        self._posted: dict[str, _Posted[Message]] = {}

    async def ask(self, request: ApprovalRequest) -> None:
        asked_at = datetime.now(UTC)
        try:
            message = await self._binding.post_approval(request)
        except Exception as error:
            undelivered = self._undelivered(error)
            if undelivered is None:
                raise
            raise undelivered from error
        self._posted[request.id] = _Posted(message, asked_at)

    async def settled(self, settled: ApprovalSettled) -> None:
        posted = self._posted.pop(settled.request.id, None)
        if posted is None:
            return  # never shown (its post failed): nothing to update
        allowed = settled.request.expires_at - posted.asked_at
        try:
            await self._binding.settle_approval(
                posted.message, settled, decision_text(settled, allowed)
            )
        except Exception as error:
            undelivered = self._undelivered(error)
            if undelivered is None:
                raise
            raise undelivered from error
