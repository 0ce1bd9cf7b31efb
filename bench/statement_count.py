"""Counts the SQL statements this process sends to PostgreSQL, by statement, for a benchmark.

`count_statements()` wraps asyncpg's Connection methods (the store's and the coordination's
calls, and BEGIN and COMMIT, all pass through them) before any connection opens; `dump`
writes the counts as JSON. It observes: every call goes on to asyncpg unchanged.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")
SHOWN = 90  # characters of a statement kept as its name

counts: Counter[str] = Counter()


def _counted(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        counts[" ".join(query.split())[:SHOWN]] += 1
        return await method(self, query, *args, **kwargs)

    return call


def count_statements() -> None:
    for name in METHODS:
        setattr(asyncpg.Connection, name, _counted(getattr(asyncpg.Connection, name)))


def dump(path: Path) -> None:
    path.write_text(json.dumps(dict(counts)))
