"""`parley store copy` stopped part way (cancelled like Ctrl-C, or killed) and run again."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path

import asyncpg
import pytest

from cli.store_copy import Source, copy_store
from cli.store_copy_batches import MAX_BATCH_CHARS
from cli.store_copy_progress import PlainLines
from core.store import NewMessage, Store
from core.store.postgres.schema import migrate
from tests.cli.store_copy_seed import SLACK, assert_same_rows, seed
from tests.cli.test_store_copy import copy
from tests.fakes.waiting import wait_for_state

BULK = 2000


class CancelAfter(PlainLines):
    """The plain lines, and the copy's task cancelled once `batches` of `table` are in."""

    def __init__(self, table: str, batches: int) -> None:
        super().__init__(io.StringIO())
        self._table = table
        self._left = batches
        self.task: asyncio.Task[object] | None = None

    def batch_copied(self, table: str, added: int, present: int) -> None:
        super().batch_copied(table, added, present)
        if table == self._table:
            self._left -= 1
            if self._left == 0 and self.task is not None:
                self.task.cancel()  # lands at the copy's next await, as Ctrl-C's does


async def count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def said_for(table: str, err: str) -> tuple[int, int, int]:
    """(copied, already there, in the source) from the line a run ends `table` with."""
    found = re.search(
        rf"^{table}: ([\d,]+) copied, ([\d,]+) already there, ([\d,]+) in the source",
        err,
        re.MULTILINE,
    )
    assert found is not None, err
    copied, there, total = (int(group.replace(",", "")) for group in found.groups())
    return copied, there, total


async def test_a_copy_cancelled_part_way_is_taken_up_without_writing_a_row_twice(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "parley.db"
    await seed(source, bulk=BULK)
    stopper = CancelAfter("messages", batches=5)
    task = asyncio.create_task(
        copy_store(Source.look_at(source), postgres_url, stopper, 100, io.StringIO())
    )
    stopper.task = task
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await count(postgres_url, "messages") == 500  # five whole batches, no more

    assert await copy(source, postgres_url, "--batch-size", "100") == 0
    copied, there, total = said_for("messages", capsys.readouterr().err)
    assert total == BULK + 4
    # The run starts at the highest id copied (compared again, not written): the rest only.
    assert (copied, there) == (total - 500, 500)
    await assert_same_rows(source, postgres_url)


@pytest.mark.parametrize(
    ("stop", "exit_code"), [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)]
)
async def test_a_copy_killed_or_interrupted_is_taken_up_and_ends_with_the_source_counts(
    tmp_path: Path,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    stop: signal.Signals,
    exit_code: int,
) -> None:
    source = tmp_path / "parley.db"
    await seed(source, bulk=BULK)
    argv = ["-m", "cli", "store", "copy", "--from", str(source), "--batch-size", "20"]
    child = await asyncio.create_subprocess_exec(
        sys.executable, *argv, "--to-env", "TARGET",
        env={**os.environ, "TARGET": postgres_url, "PYTHONPATH": os.getcwd()},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stderr is not None
    heard: list[str] = []
    while not any(line.startswith("conversations: ") and "copied" in line for line in heard):
        line = (await child.stderr.readline()).decode()
        assert line, f"the copy ended before its first table: {heard}"
        heard.append(line)
    child.send_signal(stop)
    rest = (await child.stderr.read()).decode()
    assert await child.wait() == exit_code, rest
    if stop == signal.SIGINT:  # Ctrl-C: one line saying what to do, no traceback
        assert rest.splitlines()[-1].endswith("run the same command to go on"), rest
        assert "Traceback" not in rest
    assert await count(postgres_url, "messages") < BULK + 4

    assert await copy(source, postgres_url) == 0
    err = capsys.readouterr().err
    conversations = said_for("conversations", err)
    assert conversations[0] == 0 and conversations[1] == conversations[2]
    copied, there, total = said_for("messages", err)
    assert copied + there == total == BULK + 4
    await assert_same_rows(source, postgres_url)


class Batches(PlainLines):
    """The plain lines, and how many rows each batch of each table held."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.sizes: dict[str, list[int]] = {}

    def batch_copied(self, table: str, added: int, present: int) -> None:
        super().batch_copied(table, added, present)
        self.sizes.setdefault(table, []).append(added + present)


async def test_long_rows_end_a_batch_before_its_row_count_does(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "parley.db"
    await seed(source)
    long_reply = "x" * (MAX_BATCH_CHARS // 5)
    async with await Store.open(source) as store:
        said = NewMessage("assistant", "helper", "helper", long_reply, "complete", 1)
        await store.add_messages(SLACK, [said] * 12)
    batches = Batches()
    await copy_store(Source.look_at(source), postgres_url, batches, 5000, io.StringIO())
    # 4 + 12 messages; a batch ends on the row that reaches the budget (5 long ones).
    assert batches.sizes["messages"] == [9, 5, 2]
    assert await count(postgres_url, "messages") == 16


class Started(PlainLines):
    """The plain lines, and an event set once `table` starts."""

    def __init__(self, table: str) -> None:
        super().__init__(io.StringIO())
        self._table = table
        self.reached = asyncio.Event()

    def table_started(self, table: str, total: int, present: int) -> None:
        super().table_started(table, total, present)
        if table == self._table:
            self.reached.set()


async def test_a_replica_starting_during_the_copy_waits_until_it_ends(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "parley.db"
    seeded = await seed(source)
    blocker = await asyncpg.connect(postgres_url)
    await migrate(blocker)
    hold_usage = blocker.transaction()
    await hold_usage.start()
    await blocker.execute("LOCK TABLE usage IN ACCESS EXCLUSIVE MODE")  # the copy stops there
    started = Started("messages")
    copying = asyncio.create_task(
        copy_store(Source.look_at(source), postgres_url, started, 100, io.StringIO())
    )
    await started.reached.wait()
    replica = asyncio.create_task(Store.connect(postgres_url, replica="r2", pool_min=1))
    waiting_sql = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
        "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    observer = await asyncpg.connect(postgres_url)
    try:
        await wait_for_state(lambda: _positive(observer.fetchval(waiting_sql)))
    finally:
        await observer.close()
    assert not replica.done()
    await hold_usage.commit()
    await blocker.close()
    await copying
    await assert_same_rows(source, postgres_url)
    async with await replica as store:
        more = NewMessage("user", "U1", "Ada", "after", "complete", 1)
        assert await store.add_messages(SLACK, [more]) == [seeded.forgotten_id + 1]


async def _positive(value: Awaitable[int]) -> bool:
    return await value > 0
