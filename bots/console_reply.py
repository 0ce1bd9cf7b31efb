"""The console's reply: the words as they stream, tool steps and requests on their own lines."""

from __future__ import annotations

from typing import TextIO

from bots.console_tools import ConsoleTools
from bots.notes import summary_notes
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled, ToolStep, TurnSummary

STOPPED = "[stopped]"


class ConsoleReplySink:
    """Writes the reply as it streams; notes about trimming go on their own line.

    The bot's name is written with the first words, not at the start: a local model that is
    still loading has its own line to write first.
    """

    def __init__(self, out: TextIO, bot_name: str, tools: ConsoleTools | None = None) -> None:
        self._out = out
        self._bot_name = bot_name
        self._tools = tools
        self._text = ""
        self._named = False
        self._line_open = False  # the last thing written did not end its line
        self.stopped_by_user = False  # Ctrl-C: the failure that follows is the user's doing
        self.ended = False

    async def start(self) -> None:
        pass

    async def append(self, text: str) -> None:
        self._name()
        self._text += text
        self._write(text)

    async def finish(self, summary: TurnSummary) -> None:
        self._name()
        self._write("\n")
        for note in summary_notes(summary):
            self._write(f"  ({note})\n")
        self.ended = True

    async def fail(self, error: ParleyError) -> None:
        self._name()
        if self.stopped_by_user:
            self.mark_stopped()
            return
        self._write(f"\n  [{error.user_message}]\n")
        # In the terminal the admin the short message points to is the person reading it.
        detail = str(error)
        if detail and detail != error.user_message:
            for line in detail.splitlines():
                self._write(f"  {line}\n")
        self.ended = True

    def mark_stopped(self) -> None:
        self._name()
        self._write(f"{' ' if self._text else ''}{STOPPED}\n")
        self.ended = True

    async def say(self, text: str) -> None:
        self._write(f"  ({text})\n")
        self.ended = True

    async def step(self, step: ToolStep) -> None:
        if self._tools is not None:
            self._own_line()
            self._tools.step(step, self._write)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        if self._tools is None:
            raise RuntimeError("this console reply cannot ask for approvals")
        self._own_line()
        self._tools.ask(request, self._write, self._line_typed)

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        if self._tools is not None:
            await self._tools.settled(settled, self._write)

    @property
    def shown(self) -> str:
        return self._text  # a terminal shows every word the moment it is written

    def _line_typed(self) -> None:
        self._line_open = False

    def _own_line(self) -> None:
        """A step or a request starts on a line of its own, under the bot's name."""
        self._name()
        if self._line_open:
            self._write("\n")

    def _name(self) -> None:
        if not self._named:
            self._named = True
            self._write(f"{self._bot_name}> ")

    def _write(self, text: str) -> None:
        if text:
            self._line_open = not text.endswith("\n")
        self._out.write(text)
        self._out.flush()
