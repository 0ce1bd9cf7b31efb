"""`parley usage`: tokens and cost for a period, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from bots.config_models import load_config
from cli.report import period, write_rows
from core.store.opening import open_store
from core.usage import UsageLine, summarize

# Costs are written fixed-point to this many decimals (a billionth: a few tokens of the
# cheapest models), never as 7.4e-05, which spreadsheets and people misread.
COST_DECIMALS = 9
COLUMNS = ("group", "turns", "prompt_tokens", "cached_tokens", "cached_share",
           "completion_tokens", "cost")  # fmt: skip


def usage(args: argparse.Namespace) -> int:
    return asyncio.run(_usage(args))


async def _usage(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    since, until = period(args)
    store = await open_store(config.storage)
    try:
        rows = await store.ledger.usage_rows(since, until)
    finally:
        await store.close()
    lines = summarize(rows, args.by, config.prices)
    write_report(lines, by=args.by, since=since, until=until, fmt=args.format, out=sys.stdout)
    return 0


def write_report(
    lines: Sequence[UsageLine], *, by: str, since: datetime, until: datetime, fmt: str, out: TextIO
) -> None:
    rows = [_row(line) for line in lines]
    # JSON keeps costs as numbers: a parser reads 7.4e-05 as well as 0.000074.
    json_rows = [
        {**row, "cost": None if row["cost"] is None else float(str(row["cost"]))} for row in rows
    ]
    write_rows(
        rows, COLUMNS, by=by, since=since, until=until, fmt=fmt, out=out,
        table=lambda: _table(lines, by, since, until, out), json_rows=json_rows,
    )  # fmt: skip


def _row(line: UsageLine) -> dict[str, object]:
    return {
        "group": line.group,
        "turns": line.turns,
        "prompt_tokens": line.prompt_tokens,
        "cached_tokens": line.cached_tokens,
        "cached_share": round(line.cached_share, 4),
        "completion_tokens": line.completion_tokens,
        "cost": None if line.cost is None else decimal_text(line.cost),
    }


def decimal_text(cost: float) -> str:
    """0.000074, not 7.4e-05: fixed-point, trailing zeros trimmed."""
    text = f"{cost:.{COST_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _table(
    lines: Sequence[UsageLine], by: str, since: datetime, until: datetime, out: TextIO
) -> None:
    out.write(f"Usage by {by}, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC\n")
    if not lines:
        out.write("  no model calls in this period\n")
        return
    width = max(len(by), *(len(line.group) for line in lines))
    out.write(f"  {by:<{width}}  {'turns':>6}  {'prompt':>10}  {'cached':>7}  "
              f"{'completion':>10}  {'cost':>10}\n")  # fmt: skip
    for line in lines:
        cost = "no price" if line.cost is None else f"{line.cost:.4f}"
        out.write(
            f"  {line.group:<{width}}  {line.turns:>6}  {line.prompt_tokens:>10}  "
            f"{line.cached_share:>7.0%}  {line.completion_tokens:>10}  {cost:>10}\n"
        )
    priced = [line.cost for line in lines if line.cost is not None]
    unpriced = len(lines) - len(priced)
    note = f" ({unpriced} group(s) use a model with no price in bots.yaml)" if unpriced else ""
    out.write(f"  total cost {sum(priced):.4f}{note}\n")
