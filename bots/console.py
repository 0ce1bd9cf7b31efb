"""The terminal adapter: a person types lines, the reply streams back onto the screen."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bots.notes import summary_notes
from core.errors import ParleyError
from core.types import Author, ConversationKey, Conversations, IncomingMessage, TurnSummary

HELP = "Type a message and press Enter. /reset forgets this thread, /help shows this, /quit ends."
LineReader = Callable[[], Awaitable[str]]


def console_key(bot_name: str, thread: str) -> ConversationKey:
    return ConversationKey(platform="console", workspace="local", channel=bot_name, thread=thread)


async def read_stdin_line() -> str:
    # A thread, because a plain blocking read works the same for terminals and pipes.
    return await asyncio.to_thread(_read_line)


def _read_line() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline()
    import readline  # noqa: F401  (imported for its side effect: line editing in input())

    try:
        return input() + "\n"
    except EOFError:
        return ""


class ConsoleReplySink:
    """Writes the reply as it streams; notes about trimming go on their own line."""

    def __init__(self, out: TextIO, bot_name: str) -> None:
        self._out = out
        self._bot_name = bot_name
        self._text = ""

    async def start(self) -> None:
        self._write(f"{self._bot_name}> ")

    async def append(self, text: str) -> None:
        self._text += text
        self._write(text)

    async def finish(self, summary: TurnSummary) -> None:
        self._write("\n")
        for note in summary_notes(summary):
            self._write(f"  ({note})\n")

    async def fail(self, error: ParleyError) -> None:
        self._write(f"\n  [{error.user_message}]\n")

    async def say(self, text: str) -> None:
        self._write(f"  ({text})\n")

    @property
    def shown(self) -> str:
        return self._text  # a terminal shows every word the moment it is written

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


class ConsoleChat:
    """One terminal conversation, driven through the same entry point as every platform."""

    def __init__(
        self,
        engine: Conversations,
        *,
        bot_name: str,
        thread: str,
        user: Author,
        read_line: LineReader = read_stdin_line,
        out: TextIO | None = None,  # None: sys.stdout as it is when the chat starts
    ) -> None:
        self._engine = engine
        self._bot_name = bot_name
        self._key = console_key(bot_name, thread)
        self._user = user
        self._read_line = read_line
        self._out = out or sys.stdout
        self._turns = 0

    async def run(self) -> None:
        while True:
            self._prompt()
            line = await self._read_line()
            if not line:  # end of input: a pipe ran dry or the user pressed Ctrl-D
                self._out.write("\n")
                return
            text = line.rstrip("\n")
            if not await self._command(text.strip()):
                return

    async def _command(self, text: str) -> bool:
        """Runs one input line; returns False when the user asked to leave."""
        if text in {"/quit", "/exit"}:
            return False
        if text == "/help":
            self._out.write(HELP + "\n")
        elif text:
            await self._send(text)
        return True

    async def _send(self, text: str) -> None:
        self._turns += 1
        message = IncomingMessage(
            bot=self._bot_name,
            key=self._key,
            author=self._user,
            text=text,
            message_id=f"{self._key.thread}-{self._turns}",
            workspace_name="terminal",
            channel_name=self._key.thread,
        )
        await self._engine.handle(message, ConsoleReplySink(self._out, self._bot_name))

    def _prompt(self) -> None:
        self._out.write(f"{self._user.display_name}> ")
        self._out.flush()
