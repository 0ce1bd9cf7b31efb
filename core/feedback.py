"""Feedback reports: 👍 and 👎 per persona, bot, model or workspace, and the share positive."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.store.feedback import FeedbackRow

GROUPS: dict[str, Callable[[FeedbackRow], str]] = {
    "persona": lambda r: r.persona,
    "bot": lambda r: r.bot,
    "model": lambda r: r.model,
    "workspace": lambda r: f"{r.platform}:{r.workspace}",
}


@dataclass(frozen=True, slots=True)
class FeedbackLine:
    group: str
    up: int
    down: int

    @property
    def ratings(self) -> int:
        return self.up + self.down

    @property
    def positive_share(self) -> float:
        return self.up / self.ratings if self.ratings else 0.0


def summarize_feedback(rows: Iterable[FeedbackRow], by: str) -> list[FeedbackLine]:
    """One line per group, most rated first (then by name)."""
    key = GROUPS[by]
    totals: dict[str, tuple[int, int]] = {}
    for row in rows:
        up, down = totals.get(key(row), (0, 0))
        totals[key(row)] = (up + row.up, down + row.down)
    lines = [FeedbackLine(group, up, down) for group, (up, down) in totals.items()]
    return sorted(lines, key=lambda line: (-line.ratings, line.group))
