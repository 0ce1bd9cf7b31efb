"""`parley feedback` and `parley export` over clicks stored from Slack and from Discord."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cli.main import main
from tests.e2e import discord_env as discord_side
from tests.e2e.discord_env import discord_env
from tests.e2e.slack_env import ALICE, BOB, GENERAL, running_slack, slack_env, write_slack_config
from tests.fakes.discord_components import button_with
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_blocks import feedback_buttons
from tests.fakes.slack_server import FakeSlack

__all__ = ["discord_env", "slack_env"]


async def parley(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert await asyncio.to_thread(main, list(argv)) == 0
    return capsys.readouterr().out


async def clicks_in_slack(config: Path, slack: FakeSlack, openai: FakeOpenAI) -> str:
    """Alice 👍 and Bob 👎 on one Slack reply; returns the conversation's key."""
    async with running_slack(config, slack, openai) as world:
        openai.enqueue(Script(chunks=("From Slack.",)))
        event = await world.mention("a question")
        (reply,) = await world.settled(GENERAL, event["ts"])
        await slack.click_feedback(GENERAL, reply.ts, ALICE, positive=True)
        await slack.click_feedback(GENERAL, reply.ts, BOB, positive=False)
        buttons = feedback_buttons(reply)
        assert buttons is not None
        reply_id = buttons["positive_button"]["value"].partition(":")[2]
        await world.turns.ended(2, f"feedback:slack:{reply_id}")
        return str(world.key(GENERAL, event["ts"]))


async def clicks_in_discord(config: Path, fake: FakeDiscord, openai: FakeOpenAI) -> None:
    async with discord_side.running(config, fake, openai) as world:
        openai.enqueue(Script(chunks=("From Discord.",)))
        thread = await world.say("a question", mention=True)
        (reply,) = await world.settled(thread)
        await fake.click_button(reply, fake.user_id, "👍")
        reply_id = str(button_with(reply, "👍")["custom_id"]).rpartition(":")[2]
        await world.turns.ended(1, f"feedback:discord:{reply_id}")


async def test_feedback_report_and_export_read_clicks_from_both_platforms(
    slack_env: None,
    discord_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack_config = write_slack_config(tmp_path, fake_slack, fake_openai)  # data/parley.db
    slack_key = await clicks_in_slack(slack_config, fake_slack, fake_openai)
    # The Discord bot's config names the same file (data/parley.db, beside the config).
    config = discord_side.write_config(tmp_path / "discord.yaml", fake_discord, fake_openai)
    await clicks_in_discord(config, fake_discord, fake_openai)

    report = json.loads(
        await parley(
            capsys, "feedback", "--config", str(config), "--by", "workspace", "--format", "json"
        )
    )
    rows = {row["group"]: row for row in report["rows"]}
    assert rows == {
        f"slack:{fake_slack.team_id}": {
            "group": f"slack:{fake_slack.team_id}", "up": 1, "down": 1, "ratings": 2,
            "positive_share": 0.5,
        },
        f"discord:{fake_discord.guild_id}": {
            "group": f"discord:{fake_discord.guild_id}", "up": 1, "down": 0, "ratings": 1,
            "positive_share": 1.0,
        },
    }  # fmt: skip

    table = await parley(capsys, "feedback", "--config", str(config), "--since", "1d")
    assert "Feedback by persona" in table
    assert [line.split() for line in table.splitlines()[2:]] == [["helper", "2", "1", "67%"]]

    by_bot = await parley(
        capsys, "feedback", "--config", str(config), "--by", "bot", "--format", "csv"
    )
    assert by_bot.splitlines()[0] == "group,up,down,ratings,positive_share"
    assert sorted(by_bot.splitlines()[1:]) == ["disco,1,0,1,1.0", "team,1,1,2,0.5"]

    exported = json.loads(
        await parley(capsys, "export", "--config", str(config), "--conversation", slack_key)
    )
    (reply,) = [m for m in exported["messages"] if m["role"] == "assistant"]
    assert sorted((f["user_id"], f["rating"]) for f in reply["feedback"]) == [
        (ALICE, "up"), (BOB, "down"),
    ]  # fmt: skip
    assert all(m["feedback"] == [] for m in exported["messages"] if m["role"] == "user")
