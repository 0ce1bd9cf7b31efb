"""/ask used through a person's own install of Parley, where the bot itself is not (a server
without it, a group DM): Discord lets the app answer with the command's response and at most
five follow-ups, so the reply is fitted into six messages."""

from __future__ import annotations

import discord

from bots.discord.reply import MESSAGE_LIMIT
from bots.split import GrowingSplit, closing_fence, split_message
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled, ReplySink, ToolStep, TurnSummary

MOST_MESSAGES = 6  # the response and five follow-ups
# Room kept in the last message for what may follow the text: the note below, a failure's
# notice, the reply's own notes. Counted in messages, not characters: the split prefers
# paragraph ends, so a reply of paragraphs just over half a message takes a message each.
LAST_MESSAGE_ROOM = 400
CUT_NOTE = "-# (The answer was longer: an app used from your own apps may post six messages here.)"


def through_user_install_only(interaction: discord.Interaction) -> bool:
    """Authorized by the user's install and not by a server install of the bot."""
    return interaction.is_user_integration() and not interaction.is_guild_integration()


class FittedReply:
    """A ReplySink that passes on as much of the reply as fits in `most_messages` messages
    with room to spare in the last, then a note saying the rest was left out."""

    def __init__(
        self, inner: ReplySink, most_messages: int = MOST_MESSAGES, limit: int = MESSAGE_LIMIT
    ) -> None:
        self._inner = inner
        self._most = most_messages
        self._limit = limit
        self._split = GrowingSplit(limit)  # as the reply will split what was passed on
        self._passed: list[str] = []
        self._cut = False

    async def start(self) -> None:
        await self._inner.start()

    async def append(self, text: str) -> None:
        if self._cut:
            return
        self._split.add(text)
        if not self._fits(self._split.parts()):
            text, self._cut = self._fitting_head(text), True
        self._passed.append(text)
        if text:
            await self._inner.append(text)

    def _fits(self, parts: list[str]) -> bool:
        if len(parts) != self._most:
            return len(parts) < self._most
        return len(parts[-1]) + LAST_MESSAGE_ROOM <= self._limit

    def _fitting_head(self, text: str) -> str:
        """The longest start of `text` that still fits after what was passed on (once per
        reply: each try splits the whole reply)."""
        passed = "".join(self._passed)
        fits, too_long = 0, len(text)
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if self._fits(split_message(passed + text[:middle], self._limit)):
                fits = middle
            else:
                too_long = middle
        return text[:fits]

    async def finish(self, summary: TurnSummary) -> None:
        if self._cut:
            closing = closing_fence("".join(self._passed), self._limit)
            await self._inner.append(f"{closing}\n\n{CUT_NOTE}")
        await self._inner.finish(summary)

    async def fail(self, error: ParleyError) -> None:
        await self._inner.fail(error)

    async def say(self, text: str) -> None:
        await self._inner.say(text)

    async def step(self, step: ToolStep) -> None:
        await self._inner.step(step)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        await self._inner.ask_approval(request)

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        await self._inner.approval_settled(settled)

    @property
    def shown(self) -> str:
        return self._inner.shown
