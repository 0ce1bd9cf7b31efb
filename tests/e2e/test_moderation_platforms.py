"""Moderation seen from Slack and Discord: refusals, withheld replies, the admins' notice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.discord_env import DiscordWorld, discord_env, running, write_config
from tests.e2e.slack_env import GENERAL, SlackWorld, running_slack, slack_env, write_slack_config
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack

__all__ = ["discord_env", "slack_env"]

MARKER = "FLAGME"
MODS_SLACK = "C0MODS"
MODS_DISCORD = "300000000000000777"
HELPER_LINE = "    provider: fake\n    max_tokens: 256\n    context_tokens: 8000\n  pirate:"
MODERATED = "    moderation: {input: true, output: true}\n"
FLAGGED_OUTPUT = ("All good here.\n\n", f"But then {MARKER}", " and worse.")


def moderate_helper(path: Path, channel: str) -> None:
    """Turns moderation on for the helper persona and names the bot's moderation channel."""
    text = path.read_text()
    helper = HELPER_LINE.replace("  pirate:", MODERATED + "  pirate:")
    admins = "    admins: ["
    assert HELPER_LINE in text and admins in text
    text = text.replace(HELPER_LINE, helper)
    path.write_text(text.replace(admins, f'    moderation_channel: "{channel}"\n{admins}'))


@pytest.fixture
async def slack(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    fake_openai.flag_words = {MARKER: ("violence",)}
    fake_slack.add_channel(MODS_SLACK, "mods")
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    moderate_helper(config, MODS_SLACK)
    async with running_slack(config, fake_slack, fake_openai) as world:
        yield world


def slack_notices(world: SlackWorld) -> list[str]:
    return [m.text for m in world.slack.posted(MODS_SLACK)]


def nothing_flagged_reached_slack(world: SlackWorld) -> bool:
    return all(MARKER not in json.dumps(call.params) for call in world.slack.calls)


async def test_slack_flagged_input_is_refused_and_the_admins_told(slack: SlackWorld) -> None:
    event = await slack.mention(f"please {MARKER} now")
    await wait_until(lambda: bool(slack_notices(slack)))
    replies = slack.replies(GENERAL, event["ts"])

    assert slack.openai.requests == []
    assert len(replies) == 1 and "flagged by content moderation" in (
        replies[0].markdown_text or replies[0].text
    )
    assert slack_notices(slack) == [
        "Moderation (team): A message from Alice (U0ALICE) in #general "
        f"(conversation slack:T0ACME/C0GENERAL/{event['ts']}) was flagged (violence); "
        "it was not answered."
    ]
    assert all(MARKER not in notice for notice in slack_notices(slack))


async def test_slack_flagged_output_is_withheld_and_never_posted(slack: SlackWorld) -> None:
    slack.openai.enqueue(Script(chunks=FLAGGED_OUTPUT, delay_between_chunks=0.1))
    event = await slack.mention("tell me a story")
    # The turn's task ends after the reply's last edit and the admins' notice.
    await slack.turns.ended(1, slack.key(GENERAL, event["ts"]))
    shown = " ".join((m.markdown_text or m.text) for m in slack.replies(GENERAL, event["ts"]))

    assert "All good here." in shown and "flagged by content moderation" in shown
    assert nothing_flagged_reached_slack(slack)
    assert "A reply to Alice (U0ALICE)" in slack_notices(slack)[0]
    assert "it was withheld" in slack_notices(slack)[0]


async def test_slack_a_clean_turn_sends_no_notice(slack: SlackWorld) -> None:
    event = await slack.mention("hello")
    replies = await slack.settled(GENERAL, event["ts"])
    assert [r.markdown_text for r in replies] == ["Hello world"]
    assert slack_notices(slack) == []


@pytest.fixture
async def discord_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    fake_openai.flag_words = {MARKER: ("harassment",)}
    fake_discord.add_channel(MODS_DISCORD, "mods")
    path = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    moderate_helper(path, MODS_DISCORD)
    async with running(path, fake_discord, fake_openai) as world:
        yield world


def discord_notices(world: DiscordWorld) -> list[str]:
    return [m.content for m in world.discord.posted(MODS_DISCORD)]


async def test_discord_flagged_input_is_refused_and_the_admins_told(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    thread = await world.say(f"{MARKER} you", mention=True)
    await wait_until(lambda: bool(discord_notices(world)))

    assert world.openai.requests == []
    assert any("flagged by content moderation" in m.content for m in world.discord.posted(thread))
    fake = world.discord
    assert discord_notices(world) == [
        f"Moderation (disco): A message from Alice ({fake.user_id}) in #general "
        f"(conversation discord:{fake.guild_id}/{fake.channel_id}/{thread}) was flagged "
        "(harassment); it was not answered."
    ]
    notice = fake.posted(MODS_DISCORD)[0]
    assert notice.allowed_mentions is not None and notice.allowed_mentions.get("parse") == []


async def test_discord_flagged_output_is_withheld_and_never_posted(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=FLAGGED_OUTPUT, delay_between_chunks=0.1))
    thread = await world.say("tell me a story", mention=True)
    await world.turns.ended(1, world.key(thread))  # after the last edit and the notice
    shown = " ".join(m.content for m in world.discord.posted(thread))

    assert "All good here." in shown and "flagged by content moderation" in shown
    assert all(MARKER not in json.dumps(call.json) for call in world.discord.calls)
    assert "A reply to" in discord_notices(world)[0]
