"""The store's statements as PostgreSQL takes them: `?` numbered, and the few phrases that
only SQLite knows put the PostgreSQL way."""

from __future__ import annotations

import functools
from typing import Final

# Each SQLite phrase with its PostgreSQL equivalent; every other word of the store's SQL
# is common to both (tests run every statement on both databases).
_PHRASES: Final = (
    # A JSON array of ids as a set of rows (erasure passes ids that way).
    ("SELECT value FROM json_each(?)", "SELECT jsonb_array_elements_text(?::jsonb)::bigint"),
    # `+created_at` keeps SQLite on the id range; PostgreSQL has no unary plus for text.
    ("+created_at", "created_at"),
    ("lower(hex(randomblob(8)))", "substr(md5(random()::text), 1, 16)"),
)


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """`sql` for PostgreSQL; cached, since the store runs a few dozen statements forever."""
    for sqlite, postgres in _PHRASES:
        sql = sql.replace(sqlite, postgres)
    parts = sql.split("?")
    numbered = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        numbered.append(f"${n}{part}")
    return "".join(numbered)
