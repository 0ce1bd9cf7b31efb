"""`parley store copy`: a real SQLite file into a real PostgreSQL, read back by the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from cli.main import main
from core.store import NewMessage, Store
from core.store.runner_lock import runner_lock
from core.types import ConversationKey
from tests.cli.store_copy_seed import (
    DISCORD,
    FORGOTTEN,
    SLACK,
    TABLES,
    TOOLS,
    assert_same_rows,
    seed,
)


async def parley(*argv: str) -> int:
    """The command as an admin types it, off the test's event loop (it runs its own)."""
    return await asyncio.to_thread(main, list(argv))


async def copy(source: Path, url: str, *extra: str) -> int:
    return await parley("store", "copy", "--from", str(source), "--to", url, *extra)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return tmp_path / "data" / "parley.db"


async def test_every_row_of_every_table_is_copied_and_the_store_reads_it_back(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = await seed(source)
    assert await copy(source, postgres_url) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["table", "sqlite", "postgresql"]
    assert "DIFFERS" not in out and all(table in out for table in TABLES)
    await assert_same_rows(source, postgres_url)
    conn = await asyncpg.connect(postgres_url)
    try:
        replicas = await conn.fetchval("SELECT string_agg(DISTINCT replica, ',') FROM messages")
        assert replicas == "box-1"
    finally:
        await conn.close()

    async with await Store.open(source) as before, await Store.connect(postgres_url) as after:
        for key in (SLACK, DISCORD):
            assert await after.recent_messages(key, 10) == await before.recent_messages(key, 10)
            assert await after.transcript(key) == await before.transcript(key)
        day = timedelta(days=1)
        now = datetime.now(UTC)
        assert await after.ledger.usage_rows(now - day, now + day) == (
            await before.ledger.usage_rows(now - day, now + day)
        )
        assert after.chosen_persona("helper", DISCORD) == "pirate"
        assert await after.linked_conversation("discord", "900002") == DISCORD
        assert await after.ledger.event_seen("slack", "Ev01")
        (reply,) = [m for m in (await after.recent_messages(SLACK, 10)).messages if m.tools]
        assert reply.id == seeded.reply_id and reply.tools == TOOLS

        # New rows take ids past every id the file ever gave, the forgotten one's too.
        more = NewMessage("user", "U1", "Ada", "more", "complete", 1)
        (new_id,) = await after.add_messages(SLACK, [more])
        assert new_id == seeded.forgotten_id + 1
        fresh = ConversationKey("slack", "T1", "C3", "1700000003.3")
        await after.add_messages(fresh, [NewMessage("user", "U1", "Ada", "new", "complete", 1)])
        assert await after.knows(fresh) and await after.knows(FORGOTTEN)


async def test_a_second_run_copies_nothing_and_checks_the_counts_again(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(source)
    assert await copy(source, postgres_url) == 0
    capsys.readouterr()
    assert await copy(source, postgres_url) == 0
    err = capsys.readouterr().err
    assert "messages: 0 copied, 4 already there, 4 in the source" in err, err
    assert "processed_events: 0 copied, 1 already there" in err, err
    await assert_same_rows(source, postgres_url)


async def test_a_running_parley_run_makes_the_copy_refuse(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(source)
    with runner_lock(source):
        assert await copy(source, postgres_url) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("parley: not copied: another `parley run`"), err
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('messages')") is None
    finally:
        await conn.close()


async def test_a_tampered_target_fails_the_count_check_loudly(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(source)
    assert await copy(source, postgres_url) == 0
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(
            "INSERT INTO processed_events VALUES ('slack', 'Ev99', '2026-01-01T00:00:00Z')"
        )
    finally:
        await conn.close()
    capsys.readouterr()
    assert await copy(source, postgres_url) == 1
    captured = capsys.readouterr()
    (line,) = [row for row in captured.out.splitlines() if row.startswith("processed_events")]
    assert line.split() == ["processed_events", "1", "2", "DIFFERS"]
    assert "parley: the counts differ for processed_events" in captured.err


async def test_a_target_holding_another_stores_rows_is_refused_before_it_is_mixed(
    tmp_path: Path, source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(source)
    assert await copy(source, postgres_url) == 0
    other = tmp_path / "other" / "parley.db"
    async with await Store.open(other) as store:
        for n in range(3):  # as many conversations as the first file, elsewhere
            elsewhere = ConversationKey("slack", "T2", "C5", f"1700000005.{n}")
            said = NewMessage("user", "U5", "Bo", "x", "complete", 1)
            await store.add_messages(elsewhere, [said])
    capsys.readouterr()
    assert await copy(other, postgres_url) == 1
    err = capsys.readouterr().err
    assert "parley: not copied: the target's conversations row (3) differs" in err, err
    await assert_same_rows(source, postgres_url)  # nothing of the other file went in
