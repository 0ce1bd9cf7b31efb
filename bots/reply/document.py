"""A streamed reply's content: the model's text with one line per tool step where it happened."""

from __future__ import annotations

from dataclasses import dataclass, field

from bots.reply.tool_text import step_line
from bots.split import GrowingSplit, closing_fence
from core.types import ToolStep

ENDED_STATES = ("ok", "failed", "denied")


@dataclass(slots=True)
class _Text:
    pieces: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Step:
    call_id: str


class ReplyDocument:
    """Text only ever grows at the end, so it is split as it grows (GrowingSplit); a step's
    line changing in place (⏳ → ✅) re-splits the whole, which is rare and cheap.

    With `live_steps` off (a platform that cannot change what it has shown), a step gets its
    line only once it has ended, at the end of what is there by then."""

    def __init__(self, limit: int, *, live_steps: bool = True) -> None:
        self._limit = limit
        self._live = live_steps
        self._blocks: list[_Text | _Step] = []
        self._said: list[str] = []  # the model's text alone, joined only when needed
        self._steps: dict[str, ToolStep] = {}
        self._lines: dict[str, str] = {}  # each placed step's line, by call id
        self._every_line: set[str] = set()  # every step line ever shown: not the model's
        self._split = GrowingSplit(limit)
        self._rendered: list[str] = []  # what the split was given, in order
        self._stale = False  # a line changed in place: the split must start again
        self._visible = False

    @property
    def visible(self) -> bool:
        """Any non-blank text, or any step line, to show."""
        return self._visible

    @property
    def has_steps(self) -> bool:
        return bool(self._lines)

    def add_text(self, text: str) -> None:
        self._said.append(text)
        self._visible = self._visible or bool(text.strip())
        last = self._blocks[-1] if self._blocks else None
        if not isinstance(last, _Text):
            # The first text after a step starts a paragraph of its own.
            last = _Text()
            self._blocks.append(last)
            if len(self._blocks) > 1:
                self._give("\n\n")
        last.pieces.append(text)
        self._give(text)

    def set_step(self, step: ToolStep) -> bool:
        """Records a step's new state; True when what the reply shows changed."""
        self._steps[step.call_id] = step
        placed = step.call_id in self._lines
        if not placed and not self._live and step.state not in ENDED_STATES:
            return False
        line = step_line(step)
        self._every_line.add(line)
        if placed:
            changed = self._lines[step.call_id] != line
            self._lines[step.call_id] = line
            self._stale = self._stale or changed
            return changed
        self._lines[step.call_id] = line
        self._give(self._joint() + line)
        self._blocks.append(_Step(step.call_id))
        self._visible = True
        return True

    def steps(self) -> list[ToolStep]:
        return list(self._steps.values())

    def text(self) -> str:
        """The model's text alone."""
        return "".join(self._said)

    def rendered(self) -> str:
        """Everything the reply shows: text and step lines."""
        if self._stale:
            self._rebuild()
        return "".join(self._rendered)

    def parts(self) -> list[str]:
        if self._stale:
            self._rebuild()
        return self._split.parts()

    def without_steps(self, shown: str) -> str:
        """What a shown message holds of the model's text: its step lines taken out."""
        if not self._every_line:
            return shown
        kept = [line for line in shown.split("\n") if line not in self._every_line]
        return "\n".join(kept)

    def _joint(self) -> str:
        """What goes between the reply so far and a new step line: a code block the text
        left open is closed (the line must not show as code), then a line break, or a blank
        line after text."""
        if not self._blocks:
            return ""
        if isinstance(self._blocks[-1], _Step):
            return "\n"
        so_far = "".join(self._rendered)
        if not so_far.strip():
            return ""
        return closing_fence(so_far, self._limit) + "\n\n"

    def _give(self, text: str) -> None:
        self._rendered.append(text)
        self._split.add(text)

    def _rebuild(self) -> None:
        blocks, self._blocks = self._blocks, []
        self._rendered, self._split = [], GrowingSplit(self._limit)
        self._stale = False
        for block in blocks:
            if isinstance(block, _Text):
                if self._blocks:
                    self._give("\n\n")
                text = "".join(block.pieces)
                self._blocks.append(_Text([text]))
                self._give(text)
            else:
                self._give(self._joint() + self._lines[block.call_id])
                self._blocks.append(block)
