"""`parley feedback`: 👍 and 👎 on replies for a period, grouped, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from bots.config_models import load_config
from cli.report import period, write_rows
from core.feedback import FeedbackLine, summarize_feedback
from core.store.opening import open_store

COLUMNS = ("group", "up", "down", "ratings", "positive_share")


def feedback(args: argparse.Namespace) -> int:
    return asyncio.run(_feedback(args))


async def _feedback(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    since, until = period(args)
    async with await open_store(config.storage) as store:
        rows = await store.feedback.rows(since, until)
    lines = summarize_feedback(rows, args.by)
    write_report(lines, by=args.by, since=since, until=until, fmt=args.format, out=sys.stdout)
    return 0


def write_report(
    lines: Sequence[FeedbackLine],
    *,
    by: str,
    since: datetime,
    until: datetime,
    fmt: str,
    out: TextIO,
) -> None:
    write_rows(
        [_row(line) for line in lines], COLUMNS, by=by, since=since, until=until, fmt=fmt,
        out=out, table=lambda: _table(lines, by, since, until, out),
    )  # fmt: skip


def _row(line: FeedbackLine) -> dict[str, object]:
    return {
        "group": line.group,
        "up": line.up,
        "down": line.down,
        "ratings": line.ratings,
        "positive_share": round(line.positive_share, 4),
    }


def _table(
    lines: Sequence[FeedbackLine], by: str, since: datetime, until: datetime, out: TextIO
) -> None:
    out.write(f"Feedback by {by}, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC\n")
    if not lines:
        out.write("  no replies were rated in this period\n")
        return
    width = max(len(by), *(len(line.group) for line in lines))
    out.write(f"  {by:<{width}}  {'up':>6}  {'down':>6}  {'positive':>8}\n")
    for line in lines:
        out.write(
            f"  {line.group:<{width}}  {line.up:>6}  {line.down:>6}  {line.positive_share:>8.0%}\n"
        )
