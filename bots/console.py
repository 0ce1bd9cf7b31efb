"""The terminal adapter: a person types lines, the reply streams back onto the screen."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import termios
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Protocol, TextIO

from bots.console_reply import STOPPED, ConsoleReplySink
from bots.console_tools import ConsoleTools, LineQueue
from core.types import (
    STOPPED_BY_USER,
    Author,
    ConversationKey,
    Conversations,
    IncomingMessage,
    StoredMessage,
)

HELP = (
    "Type a message and press Enter. Ctrl-C stops a reply; at the prompt it ends the chat, "
    "as do /quit and Ctrl-D. /reset forgets this thread, /help shows this."
)
NO_REPLY = "[no reply]"  # a failed turn, shown again when its thread is continued
EARLIER_CHARS = 200  # an earlier message longer than this is shown shortened
LineReader = Callable[[], Awaitable[str]]


class TurnWaitView(Protocol):
    """A line the console shows while a turn waits (bots.console_progress.ModelStartView)."""

    def leave(self) -> None: ...


def console_key(bot_name: str, thread: str) -> ConversationKey:
    return ConversationKey(platform="console", workspace="local", channel=bot_name, thread=thread)


async def read_stdin_line() -> str:
    """The next line typed or piped in ("" at the end). Read in a daemon thread: a blocked
    read must not keep the process alive once the chat has ended (Ctrl-C at the prompt)."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def deliver(text: str) -> None:
        if not line.done():
            line.set_result(text)

    def read() -> None:
        text = _read_line()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody wants it
            loop.call_soon_threadsafe(deliver, text)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await line


def _read_line() -> str:
    try:
        if not sys.stdin.isatty():
            return sys.stdin.readline()
        import readline  # noqa: F401  (imported for its side effect: line editing in input())

        return input() + "\n"
    except (EOFError, OSError, ValueError):  # Ctrl-D, or stdin closed under us
        return ""


@contextlib.contextmanager
def _terminal_kept() -> Iterator[None]:
    """Puts the terminal's settings back on the way out: Ctrl-C at the prompt ends the chat
    while line editing (readline, in the reading thread) has the terminal in its own mode."""
    try:
        settings = termios.tcgetattr(sys.stdin.fileno())
    except (termios.error, OSError, ValueError):  # not a terminal
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, settings)


class ConsoleChat:
    """One terminal conversation, driven through the same entry point as every platform.

    Ctrl-C stops the reply being written (the engine keeps what was shown, as partial) and
    returns to the prompt; at the prompt it ends the chat, like Ctrl-D and /quit.
    """

    def __init__(
        self,
        engine: Conversations,
        *,
        bot_name: str,
        thread: str,
        user: Author,
        read_line: LineReader = read_stdin_line,
        out: TextIO | None = None,  # None: sys.stdout as it is when the chat starts
        waits: TurnWaitView | None = None,
    ) -> None:
        self._engine = engine
        self._waits = waits
        self._bot_name = bot_name
        self._key = console_key(bot_name, thread)
        self._user = user
        self._lines = LineQueue(read_line)
        self._out = out or sys.stdout
        self._turns = 0
        self._replying: tuple[asyncio.Task[object], ConsoleReplySink] | None = None
        self._leave = asyncio.Event()

    def show_earlier(self, messages: Sequence[StoredMessage], more_before: bool) -> None:
        """The end of a thread being continued, so the person knows where they left off."""
        if not messages:
            return
        self._out.write(
            "Earlier in this thread" + (" (the last exchanges):\n" if more_before else ":\n")
        )
        for message in messages:
            name = self._bot_name if message.role == "assistant" else message.author_name
            text = " ".join(message.content.split())
            if len(text) > EARLIER_CHARS:
                text = text[: EARLIER_CHARS - 1].rstrip() + "…"
            if message.status == "partial":
                text += f" {STOPPED}"
            elif message.status == "failed" and not text:
                text = NO_REPLY
            self._out.write(f"  {name}> {text}\n")
        self._out.write("\n")

    async def run(self) -> None:
        with _terminal_kept(), self._ctrl_c_handled():
            while True:
                self._prompt()
                line = await self._next_line()
                if not line:  # end of input (a pipe ran dry, Ctrl-D) or Ctrl-C at the prompt
                    self._out.write("\n")
                    return
                text = line.rstrip("\n")
                if not await self._command(text.strip()):
                    return

    async def _next_line(self) -> str:
        reading = asyncio.ensure_future(self._lines.next())
        leaving = asyncio.ensure_future(self._leave.wait())
        try:
            await asyncio.wait({reading, leaving}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            leaving.cancel()
        if not reading.done():
            reading.cancel()
            return ""
        return reading.result()

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
        tools = ConsoleTools(
            self._engine, self._lines, bot=self._bot_name, key=self._key, user=self._user
        )
        sink = ConsoleReplySink(self._out, self._bot_name, tools)
        reply = asyncio.create_task(self._engine.handle(message, sink), name="console-turn")
        self._replying = (reply, sink)
        try:
            await reply
        except asyncio.CancelledError:
            if not sink.stopped_by_user or _being_cancelled():
                raise
        finally:
            self._replying = None
        if sink.stopped_by_user and not sink.ended:
            sink.mark_stopped()  # stopped before the engine had a reply to fail

    def _interrupted(self) -> None:
        if self._replying is None:
            self._leave.set()
            return
        reply, sink = self._replying
        if not sink.stopped_by_user:  # a second Ctrl-C while it stops changes nothing
            sink.stopped_by_user = True
            if self._waits is not None:
                self._waits.leave()  # its line ends before the reply's mark is written
            reply.cancel(STOPPED_BY_USER)

    @contextlib.contextmanager
    def _ctrl_c_handled(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._interrupted)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread (tests driving the chat in-process), or no signals here:
            # Ctrl-C keeps its default meaning.
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    def _prompt(self) -> None:
        self._out.write(f"{self._user.display_name}> ")
        self._out.flush()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
