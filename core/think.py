"""Strips a reasoning model's <think>…</think> blocks from streamed text, chunk by chunk."""

from __future__ import annotations

_CLOSE_FOR_OPEN = {"<think>": "</think>", "<thinking>": "</thinking>"}
_OPEN_TAGS = tuple(_CLOSE_FOR_OPEN)


def _first_tag(text: str, tags: tuple[str, ...]) -> tuple[int, str] | None:
    """Where the earliest of `tags` starts in `text`, and which one it is."""
    found = [(index, tag) for tag in tags if (index := text.find(tag)) >= 0]
    return min(found) if found else None


def _partial_tag_length(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest end of `text` that could still grow into one of `tags`."""
    longest = max(len(tag) for tag in tags) - 1
    for size in range(min(longest, len(text)), 0, -1):
        tail = text[-size:]
        if any(tag.startswith(tail) for tag in tags):
            return size
    return 0


class ThinkFilter:
    """Feed it a reply's chunks in order; it returns what the user may see of each.

    Only the few characters that might begin a tag are held back, so ordinary text
    passes through as soon as it arrives. Call `flush` once at the end of the reply.
    """

    def __init__(self) -> None:
        self._pending = ""
        # The closing tag being waited for while inside a block; None outside.
        self._closing: str | None = None
        self._after_block = False

    def feed(self, text: str) -> str:
        self._pending += text
        visible: list[str] = []
        moved_on = True
        while moved_on:
            if self._closing is None:
                moved_on = self._take_outside(visible)
            else:
                moved_on = self._take_inside(self._closing)
        return "".join(visible)

    def flush(self) -> str:
        """Returns the held-back tail; a block never closed is dropped, not shown."""
        rest = "" if self._closing is not None else self._pending
        if self._after_block:
            rest = rest.lstrip()
        self._pending, self._closing, self._after_block = "", None, False
        return rest

    def _take_outside(self, visible: list[str]) -> bool:
        """Moves visible text out of the buffer; True when a block has just opened."""
        if self._after_block:
            # Models put a blank line after </think>; shown, it would start the reply.
            self._pending = self._pending.lstrip()
            if not self._pending:
                return False
            self._after_block = False
        found = _first_tag(self._pending, _OPEN_TAGS)
        if found is None:
            keep = _partial_tag_length(self._pending, _OPEN_TAGS)
            cut = len(self._pending) - keep
            visible.append(self._pending[:cut])
            self._pending = self._pending[cut:]
            return False
        start, tag = found
        visible.append(self._pending[:start])
        self._pending = self._pending[start + len(tag) :]
        self._closing = _CLOSE_FOR_OPEN[tag]
        return True

    def _take_inside(self, closing: str) -> bool:
        """Discards hidden text; True when the block has just closed."""
        end = self._pending.find(closing)
        if end < 0:
            keep = _partial_tag_length(self._pending, (closing,))
            self._pending = self._pending[len(self._pending) - keep :]
            return False
        self._pending = self._pending[end + len(closing) :]
        self._closing = None
        self._after_block = True
        return True
