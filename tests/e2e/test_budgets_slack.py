"""A budget through the real Slack adapter: the note lands in the thread, admins are exempt."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.slack_env import (
    ADMIN,
    BOB,
    GENERAL,
    SlackWorld,
    running_slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeMessage, FakeSlack

__all__ = ["slack_env"]

NOTE = re.compile(
    r"_:warning: This workspace has used its daily Parley allowance\. "
    r"It resets at 00:00 UTC \(in (\d+ min|\d+ h)\)\._"
)


async def only_reply(world: SlackWorld, thread: str) -> FakeMessage:
    await world.turns.ended(1, world.key(GENERAL, thread))  # nothing more will come of it
    (reply,) = world.replies(GENERAL, thread)
    return reply


async def test_a_spent_workspace_gets_one_note_per_message_and_admins_carry_on(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    # The fake reports 12 tokens per call: the workspace's allowance covers two.
    extra = "budgets:\n  - {per: workspace, tokens: 24}\n"
    config = write_slack_config(tmp_path, fake_slack, fake_openai, extra=extra)
    async with running_slack(config, fake_slack, fake_openai) as world:
        for _ in range(2):
            event = await world.mention("what is new?")
            replies = await world.settled(GENERAL, event["ts"])
            assert (replies[-1].markdown_text or "").startswith("Hello world")
        assert len(fake_openai.requests) == 2

        for _ in range(2):  # every message gets its own note, none gets silence
            note = await only_reply(world, (await world.mention("and now?", user=BOB))["ts"])
            assert NOTE.fullmatch(note.markdown_text or ""), note.markdown_text
            assert note.edits == 0
        assert len(fake_openai.requests) == 2

        event = await world.mention("my turn", user=ADMIN)  # admins are exempt by default
        replies = await world.settled(GENERAL, event["ts"])
        assert (replies[-1].markdown_text or "").startswith("Hello world")
        assert len(fake_openai.requests) == 3
