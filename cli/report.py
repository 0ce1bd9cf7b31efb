"""What `parley usage` and `parley feedback` share: the period asked for, and rows written
as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from core.usage import parse_moment

Row = dict[str, object]


def period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """`--since` and `--until` (default now) as UTC moments."""
    now = datetime.now(UTC)
    since = parse_moment(args.since, now)
    return since, parse_moment(args.until, now) if args.until else now


def write_rows(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    by: str,
    since: datetime,
    until: datetime,
    fmt: str,
    out: TextIO,
    table: Callable[[], None],
    json_rows: Sequence[Row] | None = None,
) -> None:
    """`rows` as JSON (`json_rows` instead, where numbers are kept differently) or CSV;
    `table` writes the table form."""
    if fmt == "json":
        payload = {"by": by, "since": since.isoformat(), "until": until.isoformat()}
        payload_rows = list(rows if json_rows is None else json_rows)
        json.dump({**payload, "rows": payload_rows}, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        table()
