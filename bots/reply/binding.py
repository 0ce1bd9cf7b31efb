"""What a platform gives the shared streaming reply: its calls, its limit, its look, its pace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bots.reply.errors import DeliveryError
from bots.throttle import ChannelThrottle
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled

Message = TypeVar("Message")
Show = Callable[[str], Awaitable[None]]
"""Shows a placeholder in the reply's place while nothing else is there (not reply text)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the platform said when it refused a post or an edit."""

    detail: str  # one line an admin can act on
    transient: bool  # the platform's trouble (a 5xx): the final edit tries again


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast a reply may change, and what shows while the model is silent.

    `budget` is shared by every reply under `budget_key` (a Discord channel, a Slack
    workspace); streaming edits leave `reserve` of it to final edits, which then rarely wait.
    `waiting` runs from `start` until the first words show, then is cancelled (never while it
    is inside `show`). `sleep` and `clock` are the loop's unless a test counts them.
    """

    budget: ChannelThrottle
    budget_key: Hashable
    reserve: int = 1
    edit_interval: float = 1.0
    waiting: Callable[[Show], Awaitable[None]] | None = None
    final_retry_delays: tuple[float, ...] = (0.5, 1.5)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic


class ReplyStyle(Protocol):
    """How the platform dresses what is not the model's text."""

    def notes(self, notes: list[str]) -> str:
        """The short notes under a finished reply (a non-empty list), as one block."""
        ...

    def notice(self, error: ParleyError) -> str:
        """The one short line that tells the user a reply failed."""
        ...

    @property
    def empty(self) -> str:
        """What a reply with no words shows."""
        ...


class ReplyBinding(Protocol[Message]):
    """One platform's side of a streamed reply; the reply's logic lives in StreamedReply."""

    @property
    def limit(self) -> int:
        """The most characters one message may hold; longer replies go on in more."""
        ...

    @property
    def style(self) -> ReplyStyle: ...

    @property
    def pacing(self) -> Pacing: ...

    @property
    def feedback(self) -> bool:
        """Whether a finished reply shows 👍/👎 under its last message."""
        ...

    @property
    def live_steps(self) -> bool:
        """Whether a tool step's line may change once shown (⏳ → ✅). Without, a step's line
        shows once it has ended and `progress` says what is under way meanwhile."""
        ...

    async def progress(self, text: str) -> None:
        """A status line for steps under way ("" clears it); only called without live steps."""
        ...

    async def post_approval(self, request: ApprovalRequest) -> Message:
        """A message of its own in the reply's place: who asked to run which tool with what,
        when the request expires, and Approve / Deny buttons that carry `request.id`."""
        ...

    async def settle_approval(
        self, message: Message, settled: ApprovalSettled, decision: str
    ) -> None:
        """The request's message shows how it ended (`decision`, worded), without buttons."""
        ...

    async def post(
        self, text: str, *, first: bool, final: bool = False, rated: int | None = None
    ) -> Message:
        """A new message of the reply (`first`: its first one); returns the platform's handle.
        `final`: posted by the reply's last sync, so it shows its last words already.
        `rated` is the stored reply's id when this message is the finished reply's last: the
        feedback buttons under it carry that id (see `close` too)."""
        ...

    async def edit(self, message: Message, text: str, *, rated: int | None = None) -> None: ...

    async def close(
        self, message: Message, text: str, *, changed: bool, last: bool, rated: int | None = None
    ) -> None:
        """The reply's last sync: `message` shows `text` for good (`changed`: not yet; `last`:
        the reply's last message; `rated`: add the feedback buttons for that reply). A
        platform that streams natively ends the stream here; one that only edits edits if
        `changed` or `rated`."""
        ...

    async def posted(self, message: Message) -> None:
        """Called once per reply message, right after it is posted (to link it, say)."""
        ...

    def refusal(self, error: Exception) -> Refusal | None:
        """The platform's own API error, explained; None for anything else."""
        ...

    def undelivered(
        self, detail: str, *, transient: bool, user_message: str | None = None
    ) -> DeliveryError:
        """The platform's delivery error (its type names the platform in the turn's log)."""
        ...
