"""/ask used through a person's own install of Parley, where the bot itself is not (a server
without it, a group DM): Discord lets the app answer with the command's response and at most
five follow-ups, so the reply is fitted into six messages."""

from __future__ import annotations

import discord

from core.errors import ParleyError
from core.types import ReplySink, TurnSummary

MOST_MESSAGES = 6  # the response and five follow-ups
# Parts are cut at line and word ends below Discord's 2,000 characters, sometimes well
# below; 1,500 a message on average leaves room for early cuts and the note.
MOST_CHARS = MOST_MESSAGES * 1500
CUT_NOTE = "-# (The answer was longer: an app used from your own apps may post six messages here.)"


def through_user_install_only(interaction: discord.Interaction) -> bool:
    """Authorized by the user's install and not by a server install of the bot."""
    return interaction.is_user_integration() and not interaction.is_guild_integration()


class FittedReply:
    """A ReplySink that passes on at most `most_chars` of the reply, then a note saying so."""

    def __init__(self, inner: ReplySink, most_chars: int = MOST_CHARS) -> None:
        self._inner = inner
        self._room = most_chars
        self._cut = False

    async def start(self) -> None:
        await self._inner.start()

    async def append(self, text: str) -> None:
        if self._cut:
            return
        if len(text) > self._room:
            text, self._cut = text[: self._room], True
        self._room -= len(text)
        if text:
            await self._inner.append(text)

    async def finish(self, summary: TurnSummary) -> None:
        if self._cut:
            await self._inner.append(f"\n\n{CUT_NOTE}")
        await self._inner.finish(summary)

    async def fail(self, error: ParleyError) -> None:
        await self._inner.fail(error)

    async def say(self, text: str) -> None:
        await self._inner.say(text)

    @property
    def shown(self) -> str:
        return self._inner.shown
