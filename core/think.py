"""Hides a reasoning model's reasoning from streamed text, chunk by chunk.

Reasoning is hidden only where models put it: a <think>…</think> block opening the reply,
or, for models served raw whose chat template already opened the block, everything before
a bare </think>. A tag anywhere else is the user's subject (prose, a regex, a code sample)
and is shown as written.
"""

from __future__ import annotations

_CLOSE_FOR_OPEN = {"<think>": "</think>", "<thinking>": "</thinking>"}
_OPEN_TAGS = tuple(_CLOSE_FOR_OPEN)
_CLOSE_TAGS = tuple(_CLOSE_FOR_OPEN.values())
_LONGEST_CLOSE = max(len(tag) for tag in _CLOSE_TAGS)

_START, _INSIDE, _REASONING, _TEXT = "start", "inside", "reasoning", "text"


def ends_reasoning_bare(text: str) -> bool:
    """Whether a reply began with reasoning closed by a bare </think> on its own line, with
    no opening tag or code fence before it: what DeepSeek-R1-style models print raw."""
    found = _first_close(text, 0)
    if found is None:
        return False
    before = text[: found[0]]
    if "```" in before or "<think" in before:
        return False
    return not before.strip() or before.rstrip(" \t").endswith("\n")


def _could_open(text: str) -> bool:
    return any(tag.startswith(text) for tag in _OPEN_TAGS)


def _first_close(text: str, start: int) -> tuple[int, str] | None:
    found = [(index, tag) for tag in _CLOSE_TAGS if (index := text.find(tag, start)) >= 0]
    return min(found) if found else None


class ThinkFilter:
    """Feed it a reply's chunks in order; it returns what the user may see of each.

    Once the opening of the reply is decided, text passes through as it arrives, with no
    searching. `reasoning_first`: the model is known to start with reasoning and end it with
    a bare </think>; the opening is held until that tag (shown as "Thinking…" by the
    adapters) and released whole if the tag never comes. Call `flush` once at the end.
    """

    def __init__(self, *, reasoning_first: bool = False) -> None:
        self._reasoning_first_at_start = reasoning_first
        self.closed_bare = False  # the reasoning ended at a bare close tag, as expected
        self._reset()

    def _reset(self) -> None:
        self._reasoning_first = self._reasoning_first_at_start
        self._pending = ""
        self._phase = _START
        self._closing = ""  # inside a tagged block: the tag that ends it
        # In reasoning: the text held so far, in parts (no copying per chunk), and its end,
        # where a close tag split across chunks would begin.
        self._held: list[str] = []
        self._tail = ""
        self._after_block = False

    def feed(self, text: str) -> str:
        if self._phase == _TEXT:
            return text
        self._pending += text
        visible: list[str] = []
        moved_on = True
        while moved_on and self._phase != _TEXT:
            moved_on = self._step(visible)
        if self._phase == _TEXT:
            visible.append(self._pending)
            self._pending = ""
        return "".join(visible)

    def flush(self) -> str:
        """Returns the held-back tail; a tagged block never closed is dropped, not shown."""
        rest = "" if self._phase == _INSIDE else "".join(self._held) + self._pending
        if self._after_block:
            rest = rest.lstrip()
        self._reset()
        return rest

    def _step(self, visible: list[str]) -> bool:
        if self._phase == _START:
            return self._decide_opening()
        if self._phase == _INSIDE:
            return self._take_inside()
        return self._take_reasoning()

    def _decide_opening(self) -> bool:
        """At the reply's start: a tagged block, held reasoning, or plain text."""
        opening = self._pending.lstrip()
        for tag in _OPEN_TAGS:
            if opening.startswith(tag):
                self._pending = opening[len(tag) :]
                self._phase, self._closing = _INSIDE, _CLOSE_FOR_OPEN[tag]
                return True
        if not opening or _could_open(opening):
            return False  # too little yet to tell
        if self._reasoning_first:
            self._phase = _REASONING
            return True
        # Models put a blank line after </think>; shown, it would start the reply.
        self._pending = opening if self._after_block else self._pending
        self._phase = _TEXT
        return False

    def _take_inside(self) -> bool:
        end = self._pending.find(self._closing)
        if end < 0:
            keep = len(self._closing) - 1
            self._pending = self._pending[-keep:]
            return False
        self._end_block(end + len(self._closing))
        return True

    def _take_reasoning(self) -> bool:
        # Only the new text and a possible tag's start are searched: cheap per chunk.
        window = self._tail + self._pending
        found = _first_close(window, 0)
        if found is None:
            self._held.append(self._pending)
            self._tail, self._pending = window[-(_LONGEST_CLOSE - 1) :], ""
            return False
        index, tag = found
        self._held, self._tail, self._pending = [], "", window
        self.closed_bare = True
        self._end_block(index + len(tag))
        return True

    def _end_block(self, end: int) -> None:
        self._pending = self._pending[end:]
        # A second block may follow the first; nothing else is held back as reasoning.
        self._phase, self._reasoning_first, self._after_block = _START, False, True
