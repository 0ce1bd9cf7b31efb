"""A budget through the real Discord adapter: server admins are exempt, members get the note."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.discord_env import discord_env, running, write_config
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["discord_env"]

BOB = "1200000000000000302"
NOTE = re.compile(
    r"⚠️ This workspace has used its daily Parley allowance\. "
    r"It resets at 00:00 UTC \(in (\d+ min|\d+ h)\)\."
)


async def mention(fake: FakeDiscord, text: str, author: str) -> str:
    event = fake.message_create(
        fake.channel_id, author, f"<@{fake.bot_user_id}> {text}", mentions=[fake.bot_user_id]
    )
    await fake.dispatch("MESSAGE_CREATE", event)
    return str(event["id"])  # the thread Parley opens for it has the same id


async def test_the_server_owner_is_exempt_and_a_member_gets_one_note(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    fake_discord.add_user(BOB, "bob")  # a member, not the owner: no admin
    # Top-level in bots.yaml: the harness inserts it after the bot's last line.
    budget = "budgets:\n  - {per: workspace, tokens: 12}\n"
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai, budget)
    async with running(config, fake_discord, fake_openai) as world:
        for n in range(2):  # the owner spends past the cap: admins are exempt by default
            thread = await mention(fake_discord, f"owner question {n}", fake_discord.user_id)
            await world.bot_says(thread, "Hello world")
        assert len(fake_openai.requests) == 2

        thread = await mention(fake_discord, "my question", BOB)
        await world.turns.ended(1, world.key(thread))  # nothing more will come of it
        (note,) = fake_discord.posted(thread)
        assert NOTE.fullmatch(note.content), note.content
        assert len(fake_openai.requests) == 2
