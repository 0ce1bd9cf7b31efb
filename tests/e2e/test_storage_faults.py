"""The store against a hostile world: a second runner on the file, a full disk."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from core.commands import GREETING
from tests.e2e.slack_env import GENERAL, slack_env, write_slack_config
from tests.fakes.fixtures import _PROXY_VARIABLES
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack, wait_until

__all__ = ["slack_env"]

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def parley_run(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m cli run` in a child process, stderr kept; killed on the way out."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env["PYTHONPATH"] = str(REPO_ROOT)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "run", "--config", str(config),
        cwd=config.parent, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield child
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()


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
                lambda: second.returncode is not None or reply_rows(database)[0][2] != "",
                message="the second runner neither stopped nor swept",
            )
            assert reply_rows(database) == [("partial", "", "")]
            assert await second.wait() == 1
            assert second.stderr is not None
            lines = (await second.stderr.read()).decode().splitlines()
            assert len(lines) == 1, lines
            assert lines[0].startswith(f"parley: another `parley run` (pid {first.pid})")
            assert str(database) in lines[0]

        release.set()
        await wait_until(lambda: reply_rows(database) == [("complete", "all done", "")])
        assert first.returncode is None

        # A blank mention answered: the first runner still serves, alone.
        ts = "1700000200.000100"
        await fake_slack.send_event(mention(fake_slack, "", ts))

        def greeted() -> bool:
            return any(m.markdown_text == GREETING for m in fake_slack.thread(GENERAL, ts))

        await wait_until(greeted, message="no greeting")
