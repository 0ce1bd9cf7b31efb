"""Usage reports: tokens and cost per workspace, user, persona, model, bot, channel or day."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.config import PriceConfig
from core.errors import ParleyError
from core.store import UsageRow

GROUPS: dict[str, Callable[[UsageRow], str]] = {
    "workspace": lambda r: f"{r.platform}:{r.workspace}",
    "channel": lambda r: f"{r.platform}:{r.workspace}/{r.channel}",
    "user": lambda r: f"{r.platform}:{r.user_id}",
    "persona": lambda r: r.persona,
    "model": lambda r: r.model,
    "bot": lambda r: r.bot,
    "day": lambda r: r.day,
}
_RELATIVE = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class UsageLine:
    group: str
    turns: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost: float | None  # None: a model in this group has no price in the config

    @property
    def cached_share(self) -> float:
        """How much of the prompt the provider's cache served (prompt caching hits)."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def parse_moment(text: str, now: datetime) -> datetime:
    """`7d`, `24h`, `2w` before now, or an ISO date/time (UTC when no zone is given)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - int(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ParleyError(f"not a period: {text!r} (try 7d, 24h or 2026-11-01)") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def summarize(
    rows: Iterable[UsageRow], by: str, prices: Mapping[str, PriceConfig]
) -> list[UsageLine]:
    """One line per group, most expensive (then most tokens) first."""
    key = GROUPS[by]
    totals: dict[str, list[int]] = {}
    costs: dict[str, float | None] = {}
    for row in rows:
        group = key(row)
        sums = totals.setdefault(group, [0, 0, 0, 0])
        for index, value in enumerate(
            (row.turns, row.prompt_tokens, row.cached_tokens, row.completion_tokens)
        ):
            sums[index] += value
        cost = row_cost(row, prices.get(row.model))
        previous = costs.get(group, 0.0)
        costs[group] = None if cost is None or previous is None else previous + cost
    lines = [
        UsageLine(group, sums[0], sums[1], sums[2], sums[3], costs[group])
        for group, sums in totals.items()
    ]
    return sorted(lines, key=lambda line: (-(line.cost or 0.0), -line.prompt_tokens, line.group))


def row_cost(row: UsageRow, price: PriceConfig | None) -> float | None:
    if price is None:
        return None
    cached_price = price.cached_input if price.cached_input is not None else price.input
    fresh = row.prompt_tokens - row.cached_tokens
    spent = fresh * price.input + row.cached_tokens * cached_price
    return (spent + row.completion_tokens * price.output) / 1_000_000
