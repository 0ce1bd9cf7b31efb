"""`parley run` killed with SIGKILL mid-reply, then started again: nothing lost, nothing twice."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

from core.commands import GREETING
from core.turn.rows import INTERRUPTED
from tests.e2e.processes import parley_run
from tests.e2e.slack_env import GENERAL, slack_env, write_slack_config
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack, wait_until

__all__ = ["slack_env"]

# Slow enough that the kill lands mid-stream: 40 chunks, 0.2 s apart.
SLOW_REPLY = Script(chunks=tuple(f"word{n} " for n in range(40)), delay_between_chunks=0.2)
EVENT_ID = "Ev0CRASH0001"


def database_rows(path: Path) -> tuple[str, list[tuple[str, str, str, str]]]:
    """The integrity check's verdict and every message as (role, status, content, error)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
        rows = conn.execute("SELECT role, status, content, error FROM messages ORDER BY id")
        return str(verdict), [tuple(row) for row in rows]


async def test_a_reply_killed_mid_stream_is_marked_and_not_answered_again(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = SLOW_REPLY
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    database = tmp_path / "data" / "parley.db"
    event = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@{fake_slack.bot_user_id}> tell me a long story",
        "ts": "1700000100.000100",
        "event_ts": "1700000100.000100",
        "channel": GENERAL,
        "channel_type": "channel",
        "team": fake_slack.team_id,
    }

    def posted_words() -> bool:
        replies = fake_slack.thread(GENERAL, event["ts"])
        return any("word0" in (m.markdown_text or "") for m in replies)

    def words_recorded() -> bool:
        rows = database_rows(database)[1] if database.exists() else []
        return len(rows) >= 2 and "word0" in rows[1][2]

    async with parley_run(config) as parley:
        await fake_slack.wait_connected()
        await fake_slack.send_event(event, event_id=EVENT_ID)
        await wait_until(posted_words)
        # The words are shown before the row records them: kill once it does.
        await wait_until(words_recorded, message="the row never held the words")
        parley.child.send_signal(signal.SIGKILL)
        await parley.exit_code()
    verdict, rows = database_rows(database)
    assert verdict == "ok"
    assert rows[0] == ("user", "complete", "tell me a long story", "")
    # Left "in progress", holding the first words shown: the row says it was answered.
    assert rows[1][:2] == ("assistant", "partial") and "word0" in rows[1][2]
    assert rows[1][3] == ""
    shown = [m.markdown_text for m in fake_slack.thread(GENERAL, event["ts"])]

    posts = len(fake_slack.calls_to("chat.postMessage"))

    def greeted() -> int:
        return [m.markdown_text for m in fake_slack.thread(GENERAL, event["ts"])].count(GREETING)

    async with parley_run(config):
        await wait_until(lambda: fake_slack.connections >= 2)
        # Slack re-delivers what it thinks went unanswered: same event id, a retry.
        await fake_slack.send_event(
            event, event_id=EVENT_ID, retry_attempt=1, retry_reason="timeout"
        )
        # A blank mention behind it in the same thread waits its turn in the thread's line:
        # once its greeting shows, an answer wrongly started for the retry would have ended.
        marker = {**event, "text": f"<@{fake_slack.bot_user_id}>", "ts": "1700000200.000100"}
        marker["thread_ts"] = event["ts"]
        await fake_slack.send_event(marker, event_id="Ev0CRASH0002")
        await wait_until(lambda: greeted() == 1, message="no greeting")
        verdict, rows = database_rows(database)
    assert verdict == "ok"
    assert len(rows) == 2, rows
    assert rows[1][:2] == ("assistant", "partial") and "word0" in rows[1][2]
    assert rows[1][3] == INTERRUPTED
    assert len(fake_openai.requests) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == posts + 1  # the greeting
    assert [m.markdown_text for m in fake_slack.thread(GENERAL, event["ts"])] == [
        *shown,
        None,  # the blank mention, as the fake keeps it
        GREETING,
    ]
