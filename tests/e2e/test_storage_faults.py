"""The store against a hostile world: a second runner on the file, a full disk."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.app import Runtime
from core.commands import GREETING
from core.errors import StoreError
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.processes import parley_run
from tests.e2e.slack_env import GENERAL, slack_env, write_slack_config
from tests.e2e.test_monitoring import ANY_PORT, running
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.sqlite_internals import sqlite_of

__all__ = ["discord_env", "discord_world", "slack_env"]

ALICE = Author("U1", "Alice")


def reply_rows(path: Path) -> list[tuple[str, str, str]]:
    """Every assistant row as (status, content, error)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT status, content, error FROM messages WHERE role = 'assistant' ORDER BY id"
        )
        return [tuple(row) for row in rows]


def mention(slack: FakeSlack, text: str, ts: str) -> dict[str, str]:
    return {
        "type": "app_mention", "user": "U0ALICE", "text": f"<@{slack.bot_user_id}> {text}",
        "ts": ts, "event_ts": ts, "channel": GENERAL, "channel_type": "channel",
        "team": slack.team_id,
    }  # fmt: skip


async def test_a_second_runner_on_the_same_file_is_refused_and_leaves_live_replies_alone(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    # The held reply must stay live however slowly the second process starts.
    config.write_text(config.read_text().replace("timeout: 2\n", "timeout: 600\n", 1))
    database = tmp_path / "data" / "parley.db"
    release = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("all", " done"), release=release))
    async with parley_run(config) as first:
        await fake_slack.wait_connected()
        event = mention(fake_slack, "a slow one", "1700000100.000100")
        await fake_slack.send_event(event, event_id="Ev0LOCK0001")
        await wait_until(lambda: len(fake_openai.requests) == 1, message="no model call")
        assert len(fake_openai.requests) == 1
        assert reply_rows(database) == [("partial", "", "")]  # live, in progress

        async with parley_run(config) as second:
            # Refused at once; without the lock it would serve, and sweep the live reply.
            await wait_until(
                lambda: second.child.returncode is not None or reply_rows(database)[0][2] != "",
                message="the second runner neither stopped nor swept",
            )
            assert reply_rows(database) == [("partial", "", "")]
            assert await second.exit_code() == 1
            lines = second.lines
            assert len(lines) == 1, lines
            assert lines[0].startswith(f"parley: another `parley run` (pid {first.child.pid})")
            assert str(database) in lines[0]

        release.set()
        await wait_until(lambda: reply_rows(database) == [("complete", "all done", "")])
        assert first.child.returncode is None

        # A blank mention answered: the first runner still serves, alone.
        ts = "1700000200.000100"
        await fake_slack.send_event(mention(fake_slack, "", ts))

        def greeted() -> bool:
            return any(m.markdown_text == GREETING for m in fake_slack.thread(GENERAL, ts))

        await wait_until(greeted, message="no greeting")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB filesystem (tmpfs) for the database directory, unmounted afterwards."""
    mount_point = tmp_path / "data"
    mount_point.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "parley-test", str(mount_point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(disk: Path, database: Path | None) -> Path:
    """Fills the filesystem to the last byte; the WAL emptied first, so that every write
    SQLite makes from now on needs new space, as on a disk that filled up under it."""
    if database is not None:
        with contextlib.closing(sqlite3.connect(database)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as full:
        assert full.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def texts(slack: FakeSlack, ts: str) -> list[str]:
    return [m.markdown_text or m.text or "" for m in slack.thread(GENERAL, ts)][1:]


async def test_a_full_disk_at_receive_time_gets_one_short_reply_and_health_says_so(
    slack_env: None,
    small_disk: Path,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, extra=ANY_PORT)
    async with running(config) as parley:
        filler = fill(small_disk, parley.runtime.config.current.storage.path)
        body = await parley.until_healthy(False)
        assert body["failing"] == ["database"]
        assert "full" in body["checks"]["database"]

        ts = "1700000300.000100"
        await fake_slack.send_event(mention(fake_slack, "hello?", ts))
        await wait_until(lambda: len(texts(fake_slack, ts)) == 1, message="no reply")
        (notice,) = texts(fake_slack, ts)
        assert StoreError.user_message in notice
        await parley.until_value("parley_turns_total", 1, bot="team", outcome="failed")
        lines = [
            r.getMessage() for r in caplog.records if "database or disk is full" in r.getMessage()
        ]
        assert len(lines) == 1 and lines[0].startswith("turn slack:"), lines
        assert fake_openai.requests == []

        filler.unlink()  # room again: healthy, and the next mention is answered
        await parley.until_healthy(True)
        with contextlib.closing(sqlite3.connect(parley.runtime.config.current.storage.path)) as db:
            assert (
                db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%probe%'").fetchall()
                == []
            )
        ts = "1700000400.000100"
        await fake_slack.send_event(mention(fake_slack, "and now?", ts))
        await parley.until_value("parley_turns_total", 1, bot="team", outcome="complete")
        # The turn is stored complete before its last words reach Slack.
        await wait_until(lambda: texts(fake_slack, ts)[-1:] == ["Hello world"])


async def test_a_disk_that_fills_while_a_reply_streams_fails_the_turn_not_the_bot(
    slack_env: None,
    small_disk: Path,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="core.engine")
    config = write_slack_config(tmp_path, fake_slack, fake_openai, extra=ANY_PORT)
    config.write_text(config.read_text().replace("timeout: 2\n", "timeout: 600\n", 1))
    release = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("the answer", " is 42"), release=release))
    async with running(config) as parley:
        database = parley.runtime.config.current.storage.path
        ts = "1700000500.000100"
        await fake_slack.send_event(mention(fake_slack, "what is it?", ts))
        await wait_until(lambda: len(fake_openai.requests) == 1, message="no model call")
        filler = fill(small_disk, database)
        release.set()
        await parley.until_value("parley_turns_total", 1, bot="team", outcome="failed")
        errors = {"bot": "team", "provider": "fake", "kind": "StoreError"}
        assert await parley.value("parley_errors_total", **errors) == 1
        reply = texts(fake_slack, ts)[-1]
        assert reply.startswith("the answer is 42") and StoreError.user_message in reply
        # One turn line says what happened (the first-words write, beside the stream, may
        # have warned before it); no traceback.
        turn_lines = [m for m in logged(caplog) if m.startswith("turn slack:") and "outcome=" in m]
        assert len(turn_lines) == 1, turn_lines
        assert "outcome=failed" in turn_lines[0] and "disk is full" in turn_lines[0]
        assert not [r for r in caplog.records if r.exc_info]

        filler.unlink()
        # Nothing could be written: the row still says "in progress", which the next start
        # marks interrupted; a later turn in the thread does not see it as answered text.
        assert reply_rows(database) == [("partial", "", "")]
        await parley.until_healthy(True)


async def test_a_database_at_its_size_limit_fails_the_turn_not_the_engine(
    runtime: Runtime, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """The same fault without a filesystem to fill: SQLite refuses to grow the file past
    max_page_count with SQLITE_FULL, exactly as on a full disk."""
    key = ConversationKey("console", "local", "parley", "full")
    first = RecordingSink()
    await runtime.engine.handle(IncomingMessage("parley", key, ALICE, "hello", "m-1"), first)
    assert first.error is None
    # Per connection: the engine's own is the one that must hit the limit.
    conn = sqlite_of(runtime.store)._conn  # no public way to cap the file
    assert conn is not None
    async with conn.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    await conn.execute(f"PRAGMA max_page_count = {row[0]}")

    sink = RecordingSink()
    long_text = "a question that needs new pages " * 400
    message = IncomingMessage("parley", key, ALICE, long_text, "m-2")
    outcome = await runtime.engine.handle(message, sink)
    assert outcome.status == "failed" and isinstance(outcome.error, StoreError)
    assert isinstance(sink.error, StoreError) and sink.endings == 1
    assert [m for m in logged(caplog) if "database or disk is full" in m] == [
        f"turn {key} failed: {outcome.error}"
    ]
    assert len(fake_openai.requests) == 1  # only the first turn's

    await conn.execute("PRAGMA max_page_count = 1073741823")
    again = RecordingSink()
    await runtime.engine.handle(IncomingMessage("parley", key, ALICE, "and now?", "m-3"), again)
    assert again.error is None and again.endings == 1


async def test_parley_run_on_a_full_disk_stops_with_one_line(
    slack_env: None,
    small_disk: Path,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    fill(small_disk, None)
    async with parley_run(config) as parley:
        assert await parley.exit_code() == 1
        lines = parley.lines
    assert len(lines) == 1 and lines[0].startswith("parley: "), lines
    assert "database or disk is full" in lines[0]


async def test_a_full_store_on_discord_gets_one_short_reply_and_the_next_turn_is_served(
    discord_world: DiscordWorld,
) -> None:
    world, fake = discord_world, discord_world.discord
    conn = sqlite_of(world.runtime.store)._conn  # no public way to cap the file
    assert conn is not None
    async with conn.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    await conn.execute(f"PRAGMA max_page_count = {row[0]}")
    long_text = "a question that needs new pages " * 400
    event = fake.message_create(
        fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> {long_text}",
        mentions=[fake.bot_user_id],
    )  # fmt: skip
    thread = str(event["id"])
    await fake.dispatch("MESSAGE_CREATE", event)

    def noticed() -> bool:
        return any(StoreError.user_message in m.content for m in fake.posted(thread))

    await wait_until(noticed, message="no notice in the thread")
    await world.turns.ended(1, world.key(thread))
    (notice,) = [m.content for m in fake.posted(thread)]
    assert notice.endswith(StoreError.user_message)
    assert world.openai.requests == []

    await conn.execute("PRAGMA max_page_count = 1073741823")
    again = fake.message_create(
        fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> and now?",
        mentions=[fake.bot_user_id],
    )  # fmt: skip
    await fake.dispatch("MESSAGE_CREATE", again)
    await world.turns.ended(1, world.key(str(again["id"])))
    assert [m.content for m in fake.posted(str(again["id"]))] == ["Hello world"]
