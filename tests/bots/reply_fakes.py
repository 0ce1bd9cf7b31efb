"""A fake platform for the shared streaming reply: it records calls and fails on request."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from bots.reply import DeliveryError, Pacing, Refusal
from bots.throttle import ChannelThrottle
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled

LIMIT = 20


class Refused(Exception):
    """The fake platform's API error; `transient` like a 5xx."""

    def __init__(self, why: str, *, transient: bool) -> None:
        super().__init__(why)
        self.transient = transient


class FakeTime:
    """The reply's clock and sleep: time moves only when someone sleeps; a sleep returns
    once the test opens `gate` (open at first)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.changed = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        async with self.changed:
            self.slept.append(round(seconds, 3))
            self.changed.notify_all()
        await self.gate.wait()
        self.now += seconds

    async def wait_sleeps(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.slept) >= count)


class PlainStyle:
    def notes(self, notes: list[str]) -> str:
        return "\n".join(f"({note})" for note in notes)

    def notice(self, error: ParleyError) -> str:
        return f"! {error.user_message}"

    @property
    def empty(self) -> str:
        return "(no answer)"


class FakePlatform:
    """A binding whose messages are list indexes; every call lands in `calls`."""

    def __init__(self, time: FakeTime, budget: ChannelThrottle | None = None) -> None:
        self.limit = LIMIT
        self.style = PlainStyle()
        self.pacing = Pacing(
            budget=budget or ChannelThrottle(100, 1.0),
            budget_key="c1",
            reserve=1,
            edit_interval=1.0,
            sleep=time.sleep,
            clock=time.clock,
        )
        self.messages: list[str] = []
        self.calls: list[tuple[str, int, str]] = []
        self.faults: deque[Exception] = deque()  # raised by the next calls, in order
        self.edit_gate = asyncio.Event()  # edits wait on it (open at first)
        self.edit_gate.set()
        self.editing = asyncio.Event()  # set when an edit has begun
        self.linked: list[int] = []
        self.changed = asyncio.Condition()
        self.feedback = False
        self.rated: list[tuple[int, int]] = []  # (message, reply id) shown with buttons
        self.live_steps = True
        self.statuses: list[str] = []  # progress lines, without live steps
        # Approval messages, beside the reply's: (request id, what it shows now).
        self.approvals: list[tuple[str, str]] = []

    async def post(
        self, text: str, *, first: bool, final: bool = False, rated: int | None = None
    ) -> int:
        await self._call("post", len(self.messages), text)
        if rated is not None:
            self.rated.append((len(self.messages), rated))
        self.messages.append(text)
        return len(self.messages) - 1

    async def edit(self, message: int, text: str, *, rated: int | None = None) -> None:
        self.editing.set()
        await self.edit_gate.wait()
        await self._call("edit", message, text)
        if rated is not None:
            self.rated.append((message, rated))
        self.messages[message] = text

    async def close(
        self, message: int, text: str, *, changed: bool, last: bool, rated: int | None = None
    ) -> None:
        if changed or rated is not None:  # an edits-only platform: the last sync edits
            await self.edit(message, text, rated=rated)

    async def posted(self, message: int) -> None:
        self.linked.append(message)

    async def progress(self, text: str) -> None:
        self.statuses.append(text)

    async def post_approval(self, request: ApprovalRequest) -> int:
        await self._call("approval", len(self.approvals), request.tool)
        self.approvals.append((request.id, f"asked: {request.tool} {request.arguments}"))
        return len(self.approvals) - 1

    async def settle_approval(self, message: int, settled: ApprovalSettled, decision: str) -> None:
        await self._call("settled", message, decision)
        self.approvals[message] = (settled.request.id, decision)

    def refusal(self, error: Exception) -> Refusal | None:
        if isinstance(error, Refused):
            return Refusal(f"refused: {error}", transient=error.transient)
        return None

    def undelivered(
        self, detail: str, *, transient: bool, user_message: str | None = None
    ) -> DeliveryError:
        return DeliveryError(detail, transient=transient, user_message=user_message)

    async def wait_for(self, fact: Callable[[], bool]) -> None:
        async with self.changed:
            await self.changed.wait_for(fact)

    async def _call(self, kind: str, index: int, text: str) -> None:
        async with self.changed:
            self.calls.append((kind, index, text))
            self.changed.notify_all()
        if self.faults:
            raise self.faults.popleft()
