"""A restart's note posted where each conversation's replies go, by the real Slack and Discord
clients against the fakes: a channel thread, a DM, a Discord thread or reply chain."""

from __future__ import annotations

import pytest

from bots.slack.mentions import WORD_JOINER
from core.errors import ParleyError
from core.types import ConversationKey
from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import (
    DM,
    GENERAL,
    SlackWorld,
    slack,
    slack_assistant_pane,
    slack_env,
)

__all__ = ["discord_env", "discord_world", "slack", "slack_assistant_pane", "slack_env"]

NOTE = "Parley restarted in the middle of this reply: `files.delete` did not run. Ask again."
PINGING_NOTE = "Parley restarted: `team.<!channel>` did not run, @everyone. Ask again."


# Slack


async def test_a_slack_note_goes_into_the_channel_thread(slack: SlackWorld) -> None:
    root = slack.slack.add_message(GENERAL, slack.next_ts(), "U0ALICE", "delete my files")
    await slack.bot.notify(slack.key(GENERAL, root.ts), NOTE)
    (note,) = slack.replies(GENERAL, root.ts)
    assert note.thread_ts == root.ts
    assert note.markdown_text == NOTE
    assert slack.slack.posted(GENERAL) == [note]  # nothing at the channel's top level


async def test_a_slack_note_pings_nobody(slack: SlackWorld) -> None:
    root = slack.slack.add_message(GENERAL, slack.next_ts(), "U0ALICE", "hello")
    await slack.bot.notify(slack.key(GENERAL, root.ts), PINGING_NOTE)
    (note,) = slack.replies(GENERAL, root.ts)
    assert note.markdown_text is not None
    assert "<!channel>" not in note.markdown_text
    assert f"@{WORD_JOINER}channel" in note.markdown_text
    assert f"@{WORD_JOINER}everyone" in note.markdown_text


async def test_a_slack_note_goes_into_an_agent_view_dm_thread(slack: SlackWorld) -> None:
    # The agent view keys each DM message's conversation by its own ts, as a thread.
    root = slack.slack.add_message(DM, slack.next_ts(), "U0ALICE", "delete my files")
    await slack.bot.notify(slack.key(DM, root.ts), NOTE)
    (note,) = slack.replies(DM, root.ts)
    assert note.thread_ts == root.ts and note.markdown_text == NOTE


async def test_a_slack_note_goes_to_the_top_of_an_assistant_pane_dm(
    slack_assistant_pane: SlackWorld,
) -> None:
    world = slack_assistant_pane
    # On the assistant pane a DM's top level is one conversation, answered at the top level.
    key = ConversationKey("slack", world.slack.team_id, DM, "dm")
    await world.bot.notify(key, NOTE)
    (note,) = world.slack.posted(DM)
    assert note.thread_ts is None and note.markdown_text == NOTE


async def test_a_slack_refusal_is_a_parley_error_naming_the_fix(slack: SlackWorld) -> None:
    root = slack.slack.add_message(GENERAL, slack.next_ts(), "U0ALICE", "hello")
    slack.slack.fail_next("chat.postMessage", error="not_in_channel")
    with pytest.raises(ParleyError, match="not_in_channel: invite the bot"):
        await slack.bot.notify(slack.key(GENERAL, root.ts), NOTE)
    assert slack.replies(GENERAL, root.ts) == []


# Discord


async def test_a_discord_note_goes_into_the_thread(discord_world: DiscordWorld) -> None:
    fake = discord_world.discord
    thread = fake.add_thread(fake.channel_id, "files")["id"]
    await discord_world.bot.notify(discord_world.key(thread), NOTE)
    (note,) = fake.posted(thread)
    assert note.content == NOTE and note.message_reference is None
    assert fake.posted(fake.channel_id) == []


async def test_a_discord_note_answers_the_reply_chains_root(discord_world: DiscordWorld) -> None:
    fake = discord_world.discord
    root = fake.message_create(fake.channel_id, fake.user_id, "delete my files")["id"]
    await discord_world.bot.notify(discord_world.key(root), PINGING_NOTE)
    (note,) = fake.posted(fake.channel_id)
    assert note.content == PINGING_NOTE
    assert note.message_reference is not None
    assert note.message_reference["message_id"] == root
    assert fake.pinged(note) == set()  # not @everyone, nor the root's author


async def test_a_discord_note_whose_root_is_gone_is_posted_plainly(
    discord_world: DiscordWorld,
) -> None:
    fake = discord_world.discord
    gone = "1200000000000999999"  # a reply chain's root, deleted since
    assert fake.world.find_anywhere(gone) is None
    await discord_world.bot.notify(discord_world.key(gone), NOTE)
    (note,) = fake.posted(fake.channel_id)
    assert note.content == NOTE
    # Posted though the root is gone: Discord was told not to insist on it.
    assert note.message_reference is not None
    assert note.message_reference.get("fail_if_not_exists") is False


async def test_a_discord_note_goes_into_the_dm(discord_world: DiscordWorld) -> None:
    fake = discord_world.discord
    dm = fake.add_dm_channel(fake.user_id)["id"]
    await discord_world.bot.notify(ConversationKey("discord", "dm", dm, "dm"), NOTE)
    (note,) = fake.posted(dm)
    assert note.content == NOTE and note.allowed_mentions == {"parse": []}


async def test_a_discord_refusal_is_a_parley_error(discord_world: DiscordWorld) -> None:
    fake = discord_world.discord
    thread = fake.add_thread(fake.channel_id, "files")["id"]
    fake.fail_next("POST", f"/channels/{thread}/messages", status=403)
    with pytest.raises(ParleyError, match="403"):
        await discord_world.bot.notify(discord_world.key(thread), NOTE)
    assert fake.posted(thread) == []


async def test_a_discord_note_for_a_one_off_ask_goes_into_its_channel(
    discord_world: DiscordWorld,
) -> None:
    fake = discord_world.discord
    # /ask in a channel was answered through its interaction, whose token has expired since.
    await discord_world.bot.notify(discord_world.key("ask-1200000000000000555"), NOTE)
    (note,) = fake.posted(fake.channel_id)
    assert note.content == NOTE and note.message_reference is None


async def test_a_discord_note_whose_answer_was_lost_is_posted_once(
    discord_world: DiscordWorld,
) -> None:
    fake = discord_world.discord
    thread = fake.add_thread(fake.channel_id, "files")["id"]
    # Carried out, then answered 500: discord.py sends it again by itself, with the nonce
    # (enforced) it gave the first try, so Discord answers with the message it made then.
    fake.fail_next("POST", f"/channels/{thread}/messages", status=500, after=True)
    await discord_world.bot.notify(discord_world.key(thread), NOTE)
    assert len(fake.calls_to("POST", f"/channels/{thread}/messages")) == 2
    assert [m.content for m in fake.posted(thread)] == [NOTE]


async def test_a_slack_note_whose_answer_was_lost_is_not_posted_again(slack: SlackWorld) -> None:
    root = slack.slack.add_message(GENERAL, slack.next_ts(), "U0ALICE", "hello")
    # Carried out, then answered 500: trying again could show it twice, so it is not tried.
    slack.slack.fail_next("chat.postMessage", status=500, after=True)
    with pytest.raises(ParleyError, match="C0GENERAL: internal_error"):
        await slack.bot.notify(slack.key(GENERAL, root.ts), NOTE)
    assert [m.markdown_text for m in slack.replies(GENERAL, root.ts)] == [NOTE]
    assert len(slack.slack.calls_to("chat.postMessage")) == 1
