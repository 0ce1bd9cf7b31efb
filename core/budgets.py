"""Spending budgets: whether a turn may still call the model, and what the user hears if not."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.config import BudgetConfig, BudgetPeriod, Config, PriceConfig
from core.errors import BudgetExhausted
from core.store import Store, UsageRecord, UsageRow
from core.types import IncomingMessage
from core.usage import row_cost

# Other processes (a second `parley chat`, another `parley run`) spend from the same file;
# their turns are read this often. This process's own turns count at once.
REFRESH_EVERY = timedelta(seconds=30)

_ADJECTIVE = {"day": "daily", "month": "monthly"}
_WHOSE = {
    "user": "You've used your {period} Parley allowance.",
    "workspace": "This workspace has used its {period} Parley allowance.",
    "bot": "This bot has used its {period} allowance.",
}
_NEVER = datetime.min.replace(tzinfo=UTC)

Subject = tuple[str, str]


def period_window(period: BudgetPeriod, now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar day or month holding `now`, as [start, end)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


def until_text(delta: timedelta) -> str:
    """`in 40 min`, `in 5 h`, `in 12 days`; rounded up, so coming back then is never too early."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    if minutes < 60:
        return f"in {minutes} min"
    hours = math.ceil(minutes / 60)
    if hours < 48:
        return f"in {hours} h"
    return f"in {math.ceil(hours / 24)} days"


def refusal(budget: BudgetConfig, now: datetime) -> str:
    """The note a user gets instead of a reply: whose allowance, and when it comes back."""
    _, end = period_window(budget.period, now)
    when = "at 00:00 UTC" if budget.period == "day" else f"on {end.day} {end:%B} at 00:00 UTC"
    spent = _WHOSE[budget.per].format(period=_ADJECTIVE[budget.period])
    return f"{spent} It resets {when} ({until_text(end - now)})."


@dataclass(slots=True)
class Spend:
    tokens: int = 0
    cost: float = 0.0

    def reaches(self, budget: BudgetConfig) -> bool:
        over_tokens = budget.tokens is not None and self.tokens >= budget.tokens
        return over_tokens or (budget.cost is not None and self.cost >= budget.cost)


def _subject(per: str, platform: str, workspace: str, bot: str, user_id: str) -> Subject:
    if per == "user":
        return (platform, user_id)  # user ids are unique per platform, not across them
    if per == "workspace":
        return (platform, workspace)
    return (bot, "")


class _Tally:
    """One budget's spend in its current period, per subject (user, workspace or bot)."""

    def __init__(self, budget: BudgetConfig, now: datetime) -> None:
        self.budget = budget
        self.start, self.end = period_window(budget.period, now)
        self._days = (self.start.date().isoformat(), self.end.date().isoformat())
        self.stored: dict[Subject, Spend] = {}  # read from the usage table
        self.local: dict[Subject, Spend] = {}  # this process's turns since the last read

    def applies(self, message: IncomingMessage) -> bool:
        budget = self.budget
        exempt = budget.admins_exempt and message.admin
        return not exempt and budget.bot in (None, message.bot)

    def spent(self, message: IncomingMessage) -> Spend:
        key = message.key
        who = _subject(self.budget.per, key.platform, key.workspace, message.bot, message.author.id)
        stored, local = self.stored.get(who, Spend()), self.local.get(who, Spend())
        return Spend(stored.tokens + local.tokens, stored.cost + local.cost)

    def add(
        self, into: dict[Subject, Spend], row: UsageRow, prices: Mapping[str, PriceConfig]
    ) -> None:
        if not (self._days[0] <= row.day < self._days[1] and self.budget.bot in (None, row.bot)):
            return
        who = _subject(self.budget.per, row.platform, row.workspace, row.bot, row.user_id)
        spend = into.setdefault(who, Spend())
        spend.tokens += row.prompt_tokens + row.completion_tokens
        # A model priced no more (an old persona's) costs nothing rather than blocking all.
        spend.cost += row_cost(row, prices.get(row.model)) or 0.0


class BudgetLedger:
    """What each budget's subjects spent this period.

    The period's usage is read once; then each turn of this process is added in memory and
    rows other processes wrote are read every REFRESH_EVERY, so a check costs no query.
    """

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._budgets: tuple[BudgetConfig, ...] | None = None
        self._prices: Mapping[str, PriceConfig] = {}
        self._tallies: list[_Tally] = []
        self._valid = (_NEVER, _NEVER)  # every tally's period holds moments in [start, end)
        self._read_at = _NEVER
        self._spend = store.ledger.spend_reader()
        self._lock = asyncio.Lock()

    async def check(self, config: Config, message: IncomingMessage) -> None:
        """Raises BudgetExhausted when a budget that applies to this message is spent."""
        if not config.budgets:
            return
        now = self._clock()
        if self._due(config, now):
            async with self._lock:
                if self._due(config, now):
                    await self._catch_up(config, now)
        spent = [
            (tally, spend)
            for tally in self._tallies
            if tally.applies(message) and (spend := tally.spent(message)).reaches(tally.budget)
        ]
        if spent:
            # The budget that frees the user last is the one worth naming.
            tally, spend = max(spent, key=lambda found: found[0].end)
            budget = tally.budget
            raise BudgetExhausted(
                f"{budget.per} {budget.period} budget spent ({spend.tokens} tokens, "
                f"cost {spend.cost:.4f}); it resets {tally.end:%Y-%m-%d %H:%M} UTC",
                user_message=refusal(budget, now),
            )

    def spent(self, record: UsageRecord) -> None:
        """Counts a model call this process just recorded in the usage table."""
        if not self._tallies:
            return
        key = record.key
        row = UsageRow(
            self._clock().astimezone(UTC).date().isoformat(),
            key.platform, key.workspace, key.channel, record.bot, record.persona,
            record.model, record.user_id, 1,
            record.prompt_tokens, record.completion_tokens, record.cached_tokens,
        )  # fmt: skip
        for tally in self._tallies:
            tally.add(tally.local, row, self._prices)

    def _due(self, config: Config, now: datetime) -> bool:
        if config.budgets is not self._budgets or config.prices is not self._prices:
            return True
        return not self._valid[0] <= now < self._valid[1] or now - self._read_at >= REFRESH_EVERY

    async def _catch_up(self, config: Config, now: datetime) -> None:
        changed = config.budgets is not self._budgets or config.prices is not self._prices
        if changed or not self._valid[0] <= now < self._valid[1]:
            await self._reload(config, now)
            return
        # Cleared before the read: a turn counted from here on may be counted twice until
        # the next read, never missed; erring towards the cap is the safe side.
        for tally in self._tallies:
            tally.local.clear()
        since = min(tally.start for tally in self._tallies)
        rows = await self._spend.added(since)
        self._add_stored(rows)
        self._read_at = now

    async def _reload(self, config: Config, now: datetime) -> None:
        self._tallies = [_Tally(budget, now) for budget in config.budgets]
        self._budgets, self._prices = config.budgets, config.prices
        self._valid = (_NEVER, _NEVER)  # until the read below succeeds
        since = min(tally.start for tally in self._tallies)
        rows = await self._spend.period(since)
        self._add_stored(rows)
        starts = max(tally.start for tally in self._tallies)
        self._valid = (starts, min(tally.end for tally in self._tallies))
        self._read_at = now

    def _add_stored(self, rows: list[UsageRow]) -> None:
        for row in rows:
            for tally in self._tallies:
                tally.add(tally.stored, row, self._prices)
