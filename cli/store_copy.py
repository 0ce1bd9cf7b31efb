"""`parley store copy`: moves a SQLite store into PostgreSQL, resumably, then checks counts."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO
from urllib.parse import urlsplit

import aiosqlite
import asyncpg

from cli.store_copy_batches import CopyProgress, TableCount, copy_tables, counts
from cli.store_copy_progress import PlainLines, TerminalBar
from cli.store_copy_tables import tables_of
from core.config.storage_url import SCHEMES, shown
from core.errors import StoreError
from core.store import Store
from core.store.postgres.schema import MIGRATION_LOCK, migrate
from core.store.runner_lock import runner_lock
from core.store.schema import MIGRATIONS

INTERRUPTED = 130
_REFERENCE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Advisory locks other sessions hold on the target: a serving replica holds its name.
_OTHERS_LOCKS_SQL: Final = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid <> pg_backend_pid() "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def store_copy(args: argparse.Namespace) -> int:
    url = target_url(args.to, args.to_env, os.environ)
    source = Path(args.source)
    err: TextIO = sys.stderr
    progress = TerminalBar(err) if err.isatty() else PlainLines(err)
    with _plain_errors(url):
        found = Source.look_at(source)
        try:
            # The lock `parley run` takes: no runner writes the file while it is read.
            with runner_lock(source):
                copied = asyncio.run(copy_store(found, url, progress, args.batch_size, err))
        except StoreError as error:
            raise StoreError(f"not copied: {error}") from error
        except KeyboardInterrupt:
            err.write("\nstopped; every batch written is kept: run the same command to go on\n")
            return INTERRUPTED
    return report_counts(copied, sys.stdout, err)


def target_url(given: str | None, variable: str | None, env: Mapping[str, str]) -> str:
    """--to (whose ${VAR} are read from the environment, as in bots.yaml) or --to-env VAR."""
    if variable is not None:
        url = env.get(variable, "")
        if not url:
            raise StoreError(f"--to-env names {variable}, which is not set")
    else:
        url = given or ""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise StoreError(f"--to names ${{{name}}}, which is not set")
            return env[name]

        url = _REFERENCE.sub(value, url)
    if not url.startswith(SCHEMES):
        raise StoreError(f"the target must be a PostgreSQL URL (postgresql://…), not {shown(url)}")
    return url


@dataclass(frozen=True, slots=True)
class Source:
    """The SQLite file, its read-only address and the schema version it had."""

    path: Path
    uri: str
    version: int

    @classmethod
    def look_at(cls, path: Path) -> Source:
        """Refuses a file that is not there or not a Parley store this Parley can read."""
        if not path.is_file():
            raise StoreError(
                f"no SQLite file at {path.absolute()}: --from names the file `parley run` used "
                "(storage.path in bots.yaml)"
            )
        uri = f"{path.absolute().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as peek:
            (version,) = peek.execute("PRAGMA user_version").fetchone()
        if version == 0:
            raise StoreError(f"{path} is not a Parley database (it has no Parley schema)")
        known = len(MIGRATIONS)
        if version > known:
            raise StoreError(
                f"{path} has schema version {version}, newer than this Parley (knows {known}); "
                "upgrade Parley"
            )
        return cls(path, uri, int(version))


async def copy_store(
    source: Source, url: str, progress: CopyProgress, batch_size: int, err: TextIO
) -> list[TableCount]:
    await _upgrade(source, err)
    err.write(f"copying {source.path} to {shown(url)}\n")
    # Read-only, and one read transaction for the whole copy: every table and the final
    # counts come from one moment of the file.
    reader = await aiosqlite.connect(source.uri, uri=True, isolation_level=None)
    try:
        await reader.execute("BEGIN")
        target = await asyncpg.connect(url)
        try:
            await _prepare_target(target)
            tables = await tables_of(reader, target)
            await copy_tables(reader, target, tables, progress, batch_size)
            return await counts(reader, target, tables)
        finally:
            await target.close()
    finally:
        await reader.close()


async def _upgrade(source: Source, err: TextIO) -> None:
    """A file an older Parley wrote is upgraded first, as `parley run` would on start (the
    runner lock is held, so no runner has it open): the copy then reads exactly the tables
    and columns this Parley's PostgreSQL schema has."""
    known = len(MIGRATIONS)
    if source.version < known:
        store = await Store.open(source.path)
        await store.close()
        err.write(f"upgraded {source.path} from schema version {source.version} to {known}\n")


async def _prepare_target(target: asyncpg.Connection) -> None:
    """The schema as Store.connect would make it, and nobody serving from it meanwhile:
    a replica would hand out ids the copy is about to write. One starting during the copy
    waits in its migration for this session's lock, released when the copy ends."""
    await migrate(target)
    await target.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    if await target.fetchval(_OTHERS_LOCKS_SQL):
        raise StoreError(
            "a running Parley (or another program) holds locks on that database: "
            "stop every replica using it before copying"
        )


def report_counts(found: Sequence[TableCount], out: TextIO, err: TextIO) -> int:
    """The final check: each table's rows in both databases; non-zero unless all equal."""
    width = max(len(count.table) for count in found)
    out.write(f"{'table':<{width}}  {'sqlite':>10}  {'postgresql':>10}\n")
    for count in found:
        mark = "" if count.source == count.target else "  DIFFERS"
        out.write(f"{count.table:<{width}}  {count.source:>10,}  {count.target:>10,}{mark}\n")
    differing = [count.table for count in found if count.source != count.target]
    if differing:
        err.write(f"parley: the counts differ for {', '.join(differing)}\n")
        return 1
    err.write("every table has the same number of rows in both databases\n")
    return 0


@contextmanager
def _plain_errors(url: str) -> Iterator[None]:
    """A database failure as one StoreError line, never showing the URL's password."""
    password = urlsplit(url).password
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, sqlite3.Error, OSError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        if password:
            message = message.replace(password, "***")
        raise StoreError(f"not copied: {message}") from exc
    except StoreError as error:
        if password and password in str(error):
            raise StoreError(str(error).replace(password, "***")) from error
        raise
