"""`parley run` started over a file a killed run left mid-tool-call: each thread is told once
what became of its calls, and the calls end interrupted or denied, never run again."""

from __future__ import annotations

import signal
from pathlib import Path

from core.store import NewMessage, Store
from core.tools.exchange import CallRecord, Exchange, RoundRecord
from core.turn.rows import INTERRUPTED, reply_placeholder
from core.types import ConversationKey
from tests.e2e.discord_env import write_config
from tests.e2e.processes import Parley, parley_run
from tests.e2e.slack_env import ALICE, GENERAL, slack_env, write_slack_config
from tests.fakes.discord_server import FakeDiscord, FakeDiscordMessage
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeMessage, FakeSlack
from tests.fakes.waiting import wait_until

__all__ = ["slack_env"]

NOT_POSTED = "the restart note was not posted"


def killed_mid_tools(running: str, waiting: str) -> str:
    """The exchange a run killed mid-round leaves: one call running, one awaiting approval."""
    calls = [
        CallRecord("call_1", running, '{"path": "/tmp/old"}', state="running"),
        CallRecord("call_2", waiting, '{"to": "bob"}', state="waiting"),
    ]
    return Exchange([RoundRecord("Let me tidy up.", calls)]).to_json()


async def leave_unfinished(database: Path, key: ConversationKey, bot: str, asked: str) -> None:
    """What a killed run leaves: the question, and its reply in progress with tool calls."""
    question = NewMessage("user", ALICE, "Alice", "tidy my files", "complete", 5, asked)
    async with await Store.open(database) as store:
        _, reply_id = await store.add_messages(key, [question, reply_placeholder(bot)])
        await store.record_tools(reply_id, killed_mid_tools("files__delete", "files__share"))


async def assert_settled(database: Path, key: ConversationKey) -> None:
    async with await Store.open(database) as store:
        reply = (await store.recent_messages(key, 2)).messages[-1]
    assert reply.role == "assistant"
    assert (reply.status, reply.error) == ("failed", INTERRUPTED)  # it had shown no text
    (round_,) = Exchange.from_json(reply.tools).rounds
    assert [(c.name, c.state) for c in round_.calls] == [
        ("files__delete", "interrupted"),
        ("files__share", "denied"),
    ]


def says_what_became_of_both(text: str | None) -> bool:
    return bool(text) and "`files.delete`" in str(text) and "`files.share`" in str(text)


async def stopped(parley: Parley) -> None:
    parley.child.send_signal(signal.SIGTERM)
    assert await parley.exit_code() == 0
    assert parley.said(NOT_POSTED) == []


async def test_slack_threads_hear_once_what_a_killed_run_left_unfinished(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    database = tmp_path / "data" / "parley.db"
    first, second = fake_slack.next_ts(), "1700000900.000100"
    fake_slack.add_message(GENERAL, first, ALICE, "tidy my files")
    key = ConversationKey("slack", fake_slack.team_id, GENERAL, first)
    await leave_unfinished(database, key, "team", first)

    def notes(thread: str) -> list[FakeMessage]:
        replies = fake_slack.thread(GENERAL, thread)
        return [m for m in replies if says_what_became_of_both(m.markdown_text)]

    async with parley_run(config) as parley:
        await wait_until(lambda: len(notes(first)) == 1, message="no note in the thread")
        await stopped(parley)
    (note,) = notes(first)
    assert note.thread_ts == first and note.user == fake_slack.bot_user_id
    assert "did not run" in str(note.markdown_text)
    await assert_settled(database, key)

    # Started again, with another thread left unfinished since: notes are posted in the
    # order their replies were stored, so once the later one shows, a second note in the
    # first thread would have shown before it.
    fake_slack.add_message(GENERAL, second, ALICE, "tidy my files")
    later = ConversationKey("slack", fake_slack.team_id, GENERAL, second)
    await leave_unfinished(database, later, "team", second)
    async with parley_run(config) as parley:
        await wait_until(lambda: len(notes(second)) == 1, message="no note in the later thread")
        await stopped(parley)
    assert notes(first) == [note]
    await assert_settled(database, later)


async def test_a_discord_thread_hears_once_what_a_killed_run_left_unfinished(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    database = tmp_path / "data" / "parley.db"
    variables = {"PARLEY_TEST_KEY": "sk-test", "DISCORD_TOKEN": fake_discord.token}
    guild, channel = fake_discord.guild_id, fake_discord.channel_id
    thread = fake_discord.add_thread(channel, "tidy my files")["id"]
    key = ConversationKey("discord", guild, channel, thread)
    await leave_unfinished(database, key, "disco", "1200000000000000777")

    def notes(where: str) -> list[FakeDiscordMessage]:
        return [m for m in fake_discord.posted(where) if says_what_became_of_both(m.content)]

    async with parley_run(config, **variables) as parley:
        await wait_until(lambda: len(notes(thread)) == 1, message="no note in the thread")
        await stopped(parley)
    (note,) = notes(thread)
    assert fake_discord.pinged(note) == set()
    await assert_settled(database, key)

    # Again with a reply chain left since (its root in the channel): it hears, the thread
    # does not hear twice (the chain's note comes after the thread's would have).
    root = fake_discord.message_create(channel, fake_discord.user_id, "tidy my files")["id"]
    chain = ConversationKey("discord", guild, channel, root)
    await leave_unfinished(database, chain, "disco", root)
    async with parley_run(config, **variables) as parley:
        await wait_until(lambda: len(notes(channel)) == 1, message="no note under the root")
        await stopped(parley)
    (answer,) = notes(channel)
    assert answer.message_reference is not None and answer.message_reference["message_id"] == root
    assert notes(thread) == [note]
    await assert_settled(database, chain)
