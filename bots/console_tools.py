"""Tool steps and approvals in the terminal: a line per step, and y/N asked for a request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bots.reply.tool_text import decision_mark, decision_text, duration_text, refusal_text
from bots.reply.tool_text import step_line as step_words
from core.types import (
    ApprovalClick,
    ApprovalRequest,
    ApprovalSettled,
    Author,
    ConversationKey,
    Conversations,
    ToolStep,
)

LineReader = Callable[[], Awaitable[str]]
Write = Callable[[str], None]
YES = frozenset({"y", "yes"})


class LineQueue:
    """Lines typed, handed to one reader at a time. A line read for a reader that gave up
    (an approval that expired meanwhile) is kept for the next one: a read from the terminal
    cannot be taken back, and a typed line must never be lost."""

    def __init__(self, read_line: LineReader) -> None:
        self._read_line = read_line
        self._pending: asyncio.Future[str] | None = None
        self._turn = asyncio.Lock()

    async def next(self) -> str:
        async with self._turn:
            if self._pending is None:
                self._pending = asyncio.ensure_future(self._read_line())
            line = await asyncio.shield(self._pending)
            self._pending = None
            return line

    def close(self) -> None:
        """The chat ends: a read under way is no one's any more."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


class ConsoleTools:
    """One turn's steps and approvals. The person at the terminal asked, so they decide: the
    next line they type answers the request (y or yes runs it; anything else denies it)."""

    def __init__(
        self,
        engine: Conversations,
        lines: LineQueue,
        *,
        bot: str,
        key: ConversationKey,
        user: Author,
    ) -> None:
        self._engine = engine
        self._lines = lines
        self._bot = bot
        self._key = key
        self._user = user
        self._answers: dict[str, tuple[asyncio.Task[None], datetime]] = {}

    def step(self, step: ToolStep, write: Write) -> None:
        if step.state != "waiting":  # the request itself says so, with what to type
            write(f"  {step_words(step, code=False)}\n")

    def ask(self, request: ApprovalRequest, write: Write, answered: Callable[[], None]) -> None:
        """Prints the request and reads the answer in a task; `answered` is told once the
        person has typed it (their Enter ended the line)."""
        asked_at = datetime.now(UTC)
        wait = duration_text(request.expires_at - asked_at)
        write(
            f"  ✋ {request.asked_by.display_name} asked me to run {request.tool} with:\n"
            f"    {request.arguments}\n"
            f"  (unanswered within {wait}, it is denied) Run it? [y/N] "
        )
        answer = asyncio.create_task(
            self._answer(request, write, answered), name="console-approval"
        )
        self._answers[request.id] = (answer, asked_at)

    async def settled(self, settled: ApprovalSettled, write: Write) -> None:
        answer, asked_at = self._answers.pop(settled.request.id, (None, None))
        if answer is not None and not answer.done():
            # Expired or cancelled before a line came: the next line is the prompt's again.
            answer.cancel()
            # Waits for the answer to end without taking its cancellation for this task's.
            await asyncio.wait([answer])
            write("\n")
        allowed = settled.request.expires_at - (asked_at or datetime.now(UTC))
        write(f"  {decision_mark(settled)} {decision_text(settled, allowed)}\n")

    async def _answer(
        self, request: ApprovalRequest, write: Write, answered: Callable[[], None]
    ) -> None:
        line = await self._lines.next()
        answered()
        click = ApprovalClick(
            bot=self._bot,
            platform=self._key.platform,
            workspace=self._key.workspace,
            channel=self._key.channel,
            approval_id=request.id,
            user_id=self._user.id,
            user_name=self._user.display_name,
            approve=line.strip().lower() in YES,
            admin=True,  # the person at the terminal runs this Parley
        )
        note = refusal_text(await self._engine.approve(click), self._user.display_name)
        if note is not None:
            write(f"  ({note})\n")
