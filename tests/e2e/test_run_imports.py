"""`parley run` loads only what its bots need, and the model side once they are connected.

The child runs with PYTHONPROFILEIMPORTTIME, so its stderr holds one line per module it
imported, in order, among its log lines: facts, not timings.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.e2e.discord_env import discord_env, write_config
from tests.e2e.processes import Parley, parley_run
from tests.e2e.slack_env import ALICE, GENERAL, slack_env, write_slack_config
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, echo_last_user
from tests.fakes.slack_server import FakeSlack, wait_until

__all__ = ["discord_env", "slack_env"]

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)$")
# The model side, as imports show it: the model client (it reads streams over aiohttp; the
# tokenizer module is imported early, its tables are what load late).
MODEL_SIDE = {"core.llm"}


def imported_before(parley: Parley, words: str) -> set[str]:
    """The modules, and their top-level packages, imported before the first log line
    holding `words`."""
    names: set[str] = set()
    for line in parley.lines:
        if words in line:
            return names
        found = IMPORTED.match(line)
        if found:
            names |= {found.group(1), found.group(1).split(".")[0]}
    raise AssertionError(f"no line said {words!r}")


def imported(parley: Parley) -> set[str]:
    found = [match.group(1) for match in map(IMPORTED.match, parley.lines) if match]
    return {*found, *(name.split(".")[0] for name in found)}


@pytest.mark.usefixtures("slack_env")
async def test_a_slack_run_never_imports_discord_and_the_model_sdk_only_once_connected(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    variables = {
        "PARLEY_TEST_KEY": "sk-test",
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_APP_TOKEN": fake_slack.app_token,
    }
    async with parley_run(config, PYTHONPROFILEIMPORTTIME="1", **variables) as parley:
        await fake_slack.wait_connected()
        # No message yet: loaded ahead of the first turn.
        await wait_until(lambda: imported(parley) >= MODEL_SIDE, message="the model side")
        ts = "1700000100.000100"
        await fake_slack.send_event(
            {
                "type": "app_mention",
                "user": ALICE,
                "text": f"<@{fake_slack.bot_user_id}> hi",
                "ts": ts,
                "event_ts": ts,
                "channel": GENERAL,
                "channel_type": "channel",
                "team": fake_slack.team_id,
            }
        )

        def answered() -> bool:
            mine = [m for m in fake_slack.thread(GENERAL, ts) if m.user == fake_slack.bot_user_id]
            return bool(mine) and "echo:" in (mine[-1].markdown_text or "")

        await wait_until(answered, message="the mention answered")
        parley.child.send_signal(signal.SIGTERM)
        assert await parley.exit_code() == 0
    at_connect = imported_before(parley, "listening over Socket Mode")
    whole_run = imported_before(parley, "SIGTERM: stopped")
    assert {"slack_bolt", "slack_sdk"} <= at_connect
    assert not at_connect & MODEL_SIDE, f"loaded before the connection: {at_connect & MODEL_SIDE}"
    assert "discord" not in whole_run
    assert parley.said("(event loop: uvloop)")  # the dev extra installs it, as does the image


@pytest.mark.usefixtures("discord_env")
async def test_a_discord_run_never_imports_slack_and_the_model_sdk_only_once_connected(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    variables = {"PARLEY_TEST_KEY": "sk-test", "DISCORD_TOKEN": fake_discord.token}
    # On asyncio's own loop, as an operator can ask: the whole run works on either.
    variables["PARLEY_EVENT_LOOP"] = "asyncio"
    async with parley_run(config, PYTHONPROFILEIMPORTTIME="1", **variables) as parley:
        await wait_until(lambda: bool(parley.said("discord bot disco connected")))
        await wait_until(lambda: imported(parley) >= MODEL_SIDE, message="the model side")
        mention = fake_discord.message_create(
            fake_discord.channel_id,
            fake_discord.user_id,
            f"<@{fake_discord.bot_user_id}> hi",
            mentions=[fake_discord.bot_user_id],
        )
        await fake_discord.dispatch("MESSAGE_CREATE", mention)
        thread = str(mention["id"])
        await wait_until(
            lambda: any(m.content == "echo: [Alice] hi" for m in fake_discord.posted(thread))
        )
        parley.child.send_signal(signal.SIGTERM)
        assert await parley.exit_code() == 0
    at_connect = imported_before(parley, "discord bot disco connected")
    whole_run = imported_before(parley, "SIGTERM: stopped")
    assert "discord" in at_connect
    assert not at_connect & MODEL_SIDE, f"loaded before the connection: {at_connect & MODEL_SIDE}"
    assert not whole_run & {"slack_bolt", "slack_sdk", "uvloop"}
    assert parley.said("(event loop: asyncio)")
