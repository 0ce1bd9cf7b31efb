"""Budget periods are UTC calendar days and months; the note says whose and when it resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.budgets import Spend, period_window, refusal, until_text
from core.config import BudgetConfig


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2026-11-23 19:00", "2026-11-23 00:00", "2026-11-24 00:00"),
        ("2026-11-23 00:00", "2026-11-23 00:00", "2026-11-24 00:00"),  # midnight opens a day
        ("2026-11-23 23:59:59.999999", "2026-11-23 00:00", "2026-11-24 00:00"),
        ("2026-12-31 23:30", "2026-12-31 00:00", "2027-01-01 00:00"),
        ("2028-02-28 12:00", "2028-02-28 00:00", "2028-02-29 00:00"),  # leap year
    ],
)
def test_a_day_is_the_utc_calendar_day(now: str, start: str, end: str) -> None:
    assert period_window("day", at(now)) == (at(start), at(end))


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2026-11-23 19:00", "2026-11-01 00:00", "2026-12-01 00:00"),
        ("2026-11-01 00:00", "2026-11-01 00:00", "2026-12-01 00:00"),
        ("2026-12-31 23:59", "2026-12-01 00:00", "2027-01-01 00:00"),  # the year turns over
        ("2028-02-29 08:00", "2028-02-01 00:00", "2028-03-01 00:00"),
        ("2026-01-31 10:00", "2026-01-01 00:00", "2026-02-01 00:00"),
    ],
)
def test_a_month_is_the_utc_calendar_month(now: str, start: str, end: str) -> None:
    assert period_window("month", at(now)) == (at(start), at(end))


def test_periods_follow_utc_whatever_zone_the_clock_reports() -> None:
    # 01:30 on the 1st in UTC+2 is still the 30th (and November) in UTC.
    local = datetime(2026, 12, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_window("day", local) == (at("2026-11-30 00:00"), at("2026-12-01 00:00"))
    assert period_window("month", local)[0] == at("2026-11-01 00:00")


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (timedelta(seconds=5), "in 1 min"),
        (timedelta(minutes=40), "in 40 min"),
        (timedelta(minutes=59, seconds=30), "in 1 h"),
        (timedelta(hours=1), "in 1 h"),
        (timedelta(hours=4, minutes=1), "in 5 h"),  # rounded up: never too early
        (timedelta(hours=47), "in 47 h"),
        (timedelta(days=2), "in 2 days"),
        (timedelta(days=12, hours=3), "in 13 days"),
    ],
)
def test_time_left_reads_naturally(left: timedelta, text: str) -> None:
    assert until_text(left) == text


def test_the_note_says_whose_allowance_and_when_it_resets() -> None:
    evening = at("2026-11-23 19:00")
    daily = BudgetConfig(per="user", tokens=100)
    assert refusal(daily, evening) == (
        "You've used your daily Parley allowance. It resets at 00:00 UTC (in 5 h)."
    )
    monthly = BudgetConfig(per="workspace", period="month", cost=5)
    assert refusal(monthly, evening) == (
        "This workspace has used its monthly Parley allowance. "
        "It resets on 1 December at 00:00 UTC (in 8 days)."
    )
    bot = BudgetConfig(per="bot", bot="team", tokens=1)
    assert refusal(bot, at("2026-11-23 23:50")) == (
        "This bot has used its daily allowance. It resets at 00:00 UTC (in 10 min)."
    )


def test_a_budget_is_spent_when_either_cap_is_reached() -> None:
    both = BudgetConfig(per="user", tokens=100, cost=1.0)
    assert not Spend(99, 0.99).reaches(both)
    assert Spend(100, 0.0).reaches(both)
    assert Spend(0, 1.0).reaches(both)
    assert not Spend(10**9, 0.0).reaches(BudgetConfig(per="user", cost=1.0))
