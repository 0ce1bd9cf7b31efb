"""`parley feedback`: 👍 and 👎 on replies for a period, grouped, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from bots.config_models import load_config
from core.feedback import FeedbackLine, summarize_feedback
from core.store import Store
from core.usage import parse_moment

COLUMNS = ("group", "up", "down", "ratings", "positive_share")


def feedback(args: argparse.Namespace) -> int:
    return asyncio.run(_feedback(args))


async def _feedback(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    now = datetime.now(UTC)
    since = parse_moment(args.since, now)
    until = parse_moment(args.until, now) if args.until else now
    async with await Store.open(config.storage.path) as store:
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
    rows = [_row(line) for line in lines]
    if fmt == "json":
        payload = {"by": by, "since": since.isoformat(), "until": until.isoformat(), "rows": rows}
        json.dump(payload, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(lines, by, since, until, out)


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
