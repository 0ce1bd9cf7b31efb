"""`parley store copy` refuses what it must not copy, upgrades an old file, hides passwords."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest

from core.store import Store
from core.store.runner_lock import lock_path
from core.store.schema import MIGRATIONS
from tests.cli.store_copy_seed import seed
from tests.cli.test_store_copy import copy, parley

PASSWORD = "pw-never-shown-4f2a"


def with_password(url: str) -> str:
    """The test server's URL with a password (trust auth ignores it), however it was written."""
    user = url.removeprefix("postgresql://").split("@", 1)[0].split(":", 1)[0]
    return url.replace(url.split("@", 1)[0], f"postgresql://{user}:{PASSWORD}", 1)


async def test_the_password_is_never_printed_whichever_way_the_url_is_given(
    tmp_path: Path,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "parley.db"
    await seed(source)
    secret_url = with_password(postgres_url)
    assert PASSWORD in secret_url
    monkeypatch.setenv("TARGET_URL", secret_url)
    monkeypatch.setenv("TARGET_PASSWORD", PASSWORD)
    reference = secret_url.replace(PASSWORD, "${TARGET_PASSWORD}")
    missing_database = secret_url.replace("/parley_t_", "/no_such_")
    runs = [
        (["--to-env", "TARGET_URL"], 0),
        (["--to", reference], 0),
        (["--to", missing_database], 1),
    ]
    for target, expected in runs:
        argv = ["store", "copy", "--from", str(source), *target]
        assert await parley(*argv) == expected, target
        captured = capsys.readouterr()
        assert PASSWORD not in captured.out + captured.err
        assert "postgresql://postgres@/" in captured.err, captured.err
    assert "does not exist" in captured.err


async def test_a_missing_file_is_refused_and_not_created(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "typo" / "parley.db"
    assert await copy(source, postgres_url) == 1
    assert "parley: no SQLite file at" in capsys.readouterr().err
    assert not source.parent.exists()


async def test_a_sqlite_file_that_is_not_parleys_is_refused_untouched(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "notes.db"
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()
    before = source.read_bytes()
    assert await copy(source, postgres_url) == 1
    assert "is not a Parley database" in capsys.readouterr().err
    assert source.read_bytes() == before and not lock_path(source).exists()


async def test_a_file_of_an_older_parley_is_upgraded_then_copied(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "parley.db"
    with closing(sqlite3.connect(source)) as conn:
        for migration in MIGRATIONS[:6]:  # version 6: messages have no replica column yet
            for statement in migration:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 6")
        conn.execute("INSERT INTO conversations VALUES (1, 'slack', 'T1', 'C1', '1.1', 'x')")
        conn.execute(
            "INSERT INTO messages (conversation_id, role, author_id, author_name, content, "
            "status, token_count, created_at) VALUES (1, 'user', 'U1', 'Ada', 'old', "
            "'complete', 1, '2025-01-01T00:00:00.000000Z')"
        )
        conn.commit()
    assert await copy(source, postgres_url) == 0
    captured = capsys.readouterr()
    assert f"upgraded {source} from schema version 6 to {len(MIGRATIONS)}" in captured.err
    target = await asyncpg.connect(postgres_url)
    try:
        row = await target.fetchrow("SELECT content, replica FROM messages WHERE id = 1")
    finally:
        await target.close()
    assert row is not None and (row["content"], row["replica"]) == ("old", "")


async def test_a_target_a_replica_serves_is_refused(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "parley.db"
    await seed(source)
    async with await Store.connect(postgres_url, replica="r1", pool_min=1) as serving:
        assert await serving.coordination.hold("replica:r1")  # as `parley run` does
        assert await copy(source, postgres_url) == 1
    assert "stop every replica using it before copying" in capsys.readouterr().err
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM messages") == 0
    finally:
        await conn.close()
