"""A process killed mid-write loses nothing it reported as committed and leaves a sound file."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from core.store import Store
from tests.core.store.backends import SqliteDb, StoreDb
from tests.core.store.conftest import KEY
from tests.core.store.rows import add_message

REPO_ROOT = Path(__file__).resolve().parents[3]

# The child writes as fast as it can and prints each id only after add_message returned,
# so every printed id is a promise that the row is durable.
WRITER = """
import asyncio, sys
from pathlib import Path
from core.store import Store
from core.types import ConversationKey
from tests.core.store.rows import add_message

async def main() -> None:
    store = await Store.open(Path(sys.argv[1]))
    key = ConversationKey(*sys.argv[2:6])
    n = 0
    while True:
        message_id = await add_message(
            store, key, role="user", author_id="U1", author_name="Ada",
            content=f"{n} " + "x" * 2000, status="complete", token_count=n,
        )
        print(message_id, flush=True)
        n += 1

asyncio.run(main())
"""

ENOUGH_WRITES = 150
DEADLINE_SECONDS = 8.0


async def _run_writer_and_kill(db_path: Path) -> list[int]:
    """Start the writer, SIGKILL it mid-stream, and return the ids it reported."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(db_path),
        KEY.platform,
        KEY.workspace,
        KEY.channel,
        KEY.thread,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    assert child.stdout is not None
    reported: list[int] = []
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            while len(reported) < ENOUGH_WRITES:
                line = await child.stdout.readline()
                assert line.endswith(b"\n"), "the writer exited before it was killed"
                reported.append(int(line))
    finally:
        child.kill()
        await child.wait()
    # Lines already in the pipe were printed after their commit too; a torn last line
    # (whatever follows the final newline) proves nothing and is dropped.
    complete_lines = (await child.stdout.read()).split(b"\n")[:-1]
    reported.extend(int(line) for line in complete_lines)
    return reported


async def test_killed_writer_keeps_every_committed_message(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        first = await add_message(
            store,
            KEY,
            role="user",
            author_id="U0",
            author_name="Before",
            content="written before the crash",
            status="complete",
            token_count=4,
        )
    reported = await _run_writer_and_kill(db_path)
    assert len(reported) >= ENOUGH_WRITES

    async with await Store.open(db_path) as store:
        assert await store.integrity_ok() is True
        history = await store.recent_messages(KEY, len(reported) + 10)
    stored = {message.id for message in history.messages}
    assert first in stored
    assert set(reported) <= stored
    assert history.more_before is False


@pytest.fixture
def db(db_path: Path) -> StoreDb:
    """SQLite's own file, pragmas and statements: these tests have no PostgreSQL twin."""
    return SqliteDb(db_path)
