"""The runner lock: one holder per database file; released with its holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store.runner_lock import lock_path, runner_lock
from tests.core.store.backends import SqliteDb, StoreDb


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "data" / "parley.db"
    with runner_lock(database):
        assert (lock_path(database).stat().st_mode & 0o777) == 0o600
        with (
            pytest.raises(StoreError, match=f"pid {os.getpid()}") as refused,
            runner_lock(database),
        ):
            pass
        assert str(database) in str(refused.value)
        with runner_lock(tmp_path / "other.db"):  # another file is another runner's
            pass
    with runner_lock(database):  # the file left behind does not block the next one
        pass


def test_a_lock_that_cannot_be_made_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(StoreError, match="runner lock"), runner_lock(blocker / "parley.db"):
        pass


@pytest.fixture
def db(db_path: Path) -> StoreDb:
    """SQLite's own file, pragmas and statements: these tests have no PostgreSQL twin."""
    return SqliteDb(db_path)
