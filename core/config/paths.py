"""Key paths into the config document, the line each one starts on, and near-miss suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """Render a loc the way a person reads it: `bots[1].workspaces.T0123.persona`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else part
    return text


@dataclass(frozen=True)
class LineMap:
    """The 1-based line of every key (and list item) in the file, looked up by loc."""

    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest ancestor that the file spells out."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


def did_you_mean(word: str, candidates: Iterable[str], quote: str = "'") -> str:
    """` (did you mean 'x'?)` when a candidate is close to `word`, else an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not matches:
        return ""
    close = matches[0]
    shown = f"{{{close}}}" if quote == "{}" else f"{quote}{close}{quote}"
    return f" (did you mean {shown}?)"


def join_or(words: Iterable[str]) -> str:
    """`a, b or c`: lists choices in a sentence."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"
