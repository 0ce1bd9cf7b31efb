"""`parley run` against a reload that would leave a running bot without its config."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bots.app import open_runtime, run_bots
from core.types import ConversationKey
from tests.e2e.slack_env import GENERAL, slack_env, write_slack_config
from tests.e2e.turns import watching_turns
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import wait_until

__all__ = ["slack_env"]


def renamed(text: str) -> str:
    return text.replace("- name: team\n", "- name: sl\n")


def removed(text: str) -> str:
    start, end = text.index("  - name: team"), text.index("monitoring:")
    return text[:start] + "  - {name: parley, platform: console, persona: helper}\n" + text[end:]


def reload_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "core.config.reload"]


@pytest.mark.parametrize("edit", [renamed, removed])
async def test_a_reload_that_drops_a_running_bot_is_refused_and_the_bot_keeps_answering(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    edit: Callable[[str], str],
) -> None:
    config = write_slack_config(
        tmp_path, fake_slack, fake_openai, extra="monitoring: {enabled: false}"
    )
    fake_openai.enqueue(Script(chunks=("still here",)))
    async with watching_turns() as turns, open_runtime(config) as runtime:
        serving = asyncio.create_task(run_bots(runtime, list(runtime.config.current.bots)))
        try:
            await fake_slack.wait_connected()
            before = runtime.config.current
            config.write_text(edit(config.read_text()))
            with caplog.at_level(logging.WARNING, logger="core.config.reload"):
                os.kill(os.getpid(), signal.SIGHUP)
                await wait_until(lambda: bool(reload_records(caplog)), message="no reload logged")
            assert runtime.config.current is before

            ts = "1700000100.000100"
            await fake_slack.send_event({
                "type": "app_mention", "user": "U0ALICE", "channel": GENERAL,
                "text": f"<@{fake_slack.bot_user_id}> are you there?", "ts": ts, "event_ts": ts,
                "channel_type": "channel", "team": fake_slack.team_id,
            })  # fmt: skip
            await turns.ended(1, ConversationKey("slack", fake_slack.team_id, GENERAL, ts))
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
    replies = [m for m in fake_slack.thread(GENERAL, ts) if m.user == fake_slack.bot_user_id]
    assert [m.text for m in replies] == ["still here"]
    [record] = reload_records(caplog)
    assert record.getMessage() == (
        "config reload refused, keeping the previous config: bot 'team' (slack) is running; "
        "renaming it, removing it or moving it to another platform needs a restart"
    )
