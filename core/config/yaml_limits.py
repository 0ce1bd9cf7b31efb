"""Bounds on what a bots.yaml may cost to read: size, aliases, nesting and expanded values."""

from __future__ import annotations

import unicodedata

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

# A real config is a few KB with a handful of aliases, a few hundred values and six levels of
# nesting; these leave ample room while a hostile file stays under ~2 s and ~45 MB for
# `parley check` (measured, interpreter start included).
MAX_FILE_BYTES = 256 * 1024
MAX_ALIASES = 100
MAX_DEPTH = 50
MAX_VALUES = 10_000

_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}


class LimitExceeded(Exception):
    """A bound was passed at `line` (1-based); `message` says which."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing past MAX_ALIASES aliases, MAX_DEPTH levels or
    MAX_VALUES nodes.

    Composition recurses once per level, so depth must be bounded here, before Python's own
    recursion limit turns a merely deep file into a RecursionError.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._aliases = 0
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]  # untyped in the stubs
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LimitExceeded(line, f"more than {MAX_ALIASES} aliases (*name)")
        else:
            # Each node costs far more than its bytes; stop before a flat list of tiny
            # values fills memory on the way to the builder's own count.
            self._nodes += 1
            if self._nodes > MAX_VALUES:
                raise LimitExceeded(
                    line, f"more than {MAX_VALUES:,} values; a config needs hundreds"
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise LimitExceeded(line, nested_too_deep())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def nested_too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep; a config needs a handful"


def too_many_values() -> str:
    return (
        f"the document expands to more than {MAX_VALUES:,} values "
        "(aliases that repeat aliases?); write it out plainly"
    )


def control_character(error: yaml.reader.ReaderError, text: str) -> LimitExceeded:
    """A ReaderError (a character YAML forbids) as a message naming the character and line."""
    line = text.count("\n", 0, error.position) + 1 if isinstance(error.position, int) else None
    code = error.character
    if not isinstance(code, int):
        return LimitExceeded(line, f"unreadable YAML: {error.reason}")
    name = _NAMES.get(code) or unicodedata.name(chr(code), "")
    shown = f"{name}, U+{code:04X}" if name else f"U+{code:04X}"
    return LimitExceeded(
        line,
        f"a control character ({shown}) is not allowed in YAML; delete it "
        "(many editors do not show it)",
    )
