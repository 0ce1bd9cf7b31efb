"""The PostgreSQL the tests use: a fresh empty database per test, reachable from other processes."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from tests.fakes.waiting import wait_until
from tests.postgres import (
    DATABASE_PREFIX,
    SERVER_URL_VARIABLE,
    database_name,
    fresh_database,
    server_for_tests,
)

# Databases earlier tests of this process used; each must be gone by the next test.
_used: list[str] = []


async def _fetch_column(url: str, sql: str) -> list[object]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _tables(url: str) -> list[object]:
    return await _fetch_column(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")


async def _databases(server_url: str) -> list[object]:
    return await _fetch_column(server_url, "SELECT datname FROM pg_database")


@pytest.mark.parametrize("turn", [1, 2, 3])
async def test_each_test_gets_an_empty_database_of_its_own(
    postgres_url: str, postgres_server_url: str, turn: int
) -> None:
    name = database_name(postgres_url)
    assert name.startswith(DATABASE_PREFIX)
    assert name not in _used
    assert await _tables(postgres_url) == []
    existing = await _databases(postgres_server_url)
    assert name in existing
    assert not set(_used) & set(existing), "an earlier test's database outlived it"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f"CREATE TABLE left_behind_{turn} (id int)")
    finally:
        await conn.close()
    _used.append(name)


async def test_two_fresh_databases_are_separate_and_dropped_after(postgres_server_url: str) -> None:
    async with (
        fresh_database(postgres_server_url) as first,
        fresh_database(postgres_server_url) as second,
    ):
        assert database_name(first) != database_name(second)
        conn = await asyncpg.connect(first)
        try:
            await conn.execute("CREATE TABLE only_in_first (id int)")
        finally:
            await conn.close()
        assert await _tables(first) == ["only_in_first"]
        assert await _tables(second) == []
    left = await _databases(postgres_server_url)
    assert database_name(first) not in left
    assert database_name(second) not in left


_CHILD = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute("INSERT INTO notes VALUES ('from the child')")
    await conn.close()
asyncio.run(main())
"""


async def test_a_child_process_reaches_the_same_database(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE notes (text text)")
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, postgres_url)
        assert await child.wait() == 0
        assert await conn.fetchval("SELECT text FROM notes") == "from the child"
    finally:
        await conn.close()


def _socket_dir(url: str) -> Path | None:
    hosts = parse_qs(urlsplit(url).query).get("host", [])
    return Path(hosts[0]) if hosts and hosts[0].startswith("/") else None


async def test_the_embedded_server_listens_on_a_socket_others_may_reach(
    postgres_server_url: str,
) -> None:
    if os.environ.get(SERVER_URL_VARIABLE):
        pytest.skip("the server is the one PARLEY_TEST_DATABASE_URL names")
    assert await _fetch_column(postgres_server_url, "SHOW listen_addresses") == [""]
    socket_dir = _socket_dir(postgres_server_url)
    assert socket_dir is not None
    for folder in (socket_dir, socket_dir.parent):
        assert folder.stat().st_mode & stat.S_IXOTH, f"{folder} cannot be entered by others"


def test_the_variable_names_the_server_and_nothing_is_started(
    monkeypatch: pytest.MonkeyPatch, postgres_server_url: str
) -> None:
    monkeypatch.setenv(SERVER_URL_VARIABLE, postgres_server_url)
    with server_for_tests() as url:
        assert url == postgres_server_url


_STARTER = """
import sys
from tests.postgres import embedded_server
with embedded_server() as url:
    print(url, flush=True)
    sys.stdin.read()
"""


async def test_a_killed_test_process_leaves_no_server_behind() -> None:
    starter = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _STARTER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert starter.stdout is not None
    url = (await starter.stdout.readline()).decode().strip()
    socket_dir = _socket_dir(url)
    assert socket_dir is not None
    pid_file = socket_dir.parent / "data" / "postmaster.pid"
    postmaster = int(pid_file.read_text().split("\n", 1)[0])
    assert await _fetch_column(url, "SELECT 1") == [1]
    starter.send_signal(signal.SIGKILL)
    await starter.wait()
    await wait_until(lambda: not socket_dir.parent.exists(), message="the directory is deleted")
    assert not _alive(postmaster)


def _alive(pid: int) -> bool:
    """A zombie is not alive: it waits only for a parent (not us) to collect it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"
