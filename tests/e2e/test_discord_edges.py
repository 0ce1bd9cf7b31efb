"""Parley in Discord at the edges: DMs, long and throttled replies, failures, access, restarts."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.commands import REFUSAL
from core.types import ConversationKey
from tests.e2e.discord_env import (
    DiscordWorld,
    discord_env,
    discord_long_replies,
    discord_world,
    running,
    sent,
    write_config,
)
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user

__all__ = ["discord_env", "discord_long_replies", "discord_world"]

BOB = "1200000000000000301"
STRANGER = "1200000000000000999"
LIMIT = 2000


async def mention(world: DiscordWorld, text: str, *, author: str | None = None) -> str:
    """A mention in #general from `author` (alice by default); returns its id, the thread's."""
    fake = world.discord
    event = fake.message_create(
        fake.channel_id,
        author or fake.user_id,
        f"<@{fake.bot_user_id}> {text}",
        mentions=[fake.bot_user_id],
    )
    await fake.dispatch("MESSAGE_CREATE", event)
    return str(event["id"])


def fence_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.lstrip().startswith("```"))


# 1. Direct messages.
async def test_dms_are_answered_without_mentions_and_remember(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.default = echo_last_user
    dm = str(world.discord.add_dm_channel(world.discord.user_id)["id"])
    await world.say("my favourite colour is teal", channel=dm)
    await wait_until(lambda: len(world.discord.posted(dm)) == 1)
    await world.say("what is my favourite colour?", channel=dm)
    await wait_until(lambda: len(world.discord.posted(dm)) == 2)
    replies = [m.content for m in world.discord.posted(dm)]
    assert "my favourite colour is teal" in replies[0]
    assert "what is my favourite colour?" in replies[1]
    history = [(m["role"], str(m["content"])) for m in sent(world)[1:]]
    assert [role for role, _ in history] == ["user", "assistant", "user"]
    assert "my favourite colour is teal" in history[0][1]
    assert history[1][1] == replies[0]
    assert world.discord.posted(world.discord.channel_id) == []


# 2. A reply longer than a Discord message, with a code block longer than one too.
CODE_LINES = [f"value_{i:03d} = compute('item number {i:03d}', scale=2)" for i in range(70)]
LONG_REPLY = (
    "Here is the plan in full. " * 20
    + "\n\n```python\n"
    + "\n".join(CODE_LINES)
    + "\n```\n\n"
    + "And that is everything there is to say about it. " * 36
).strip()


async def test_a_long_reply_is_split_with_balanced_code_fences(
    discord_long_replies: DiscordWorld,
) -> None:
    world = discord_long_replies
    assert len(LONG_REPLY) > 5000 and len("\n".join(CODE_LINES)) > LIMIT
    chunks = tuple(LONG_REPLY[i : i + 250] for i in range(0, len(LONG_REPLY), 250))
    world.openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.01))
    thread = await world.say("write it all out", mention=True)

    def complete() -> bool:
        shown = "".join(m.content for m in world.discord.posted(thread))
        return "everything there is to say about it." in shown[-60:]

    await wait_until(complete)
    await world.settled(thread)
    parts = [m.content for m in world.discord.posted(thread)]
    assert len(parts) >= 3
    for part in parts:
        assert len(part) <= LIMIT
        assert fence_lines(part) % 2 == 0, part
    shown_lines = {line for part in parts for line in part.splitlines()}
    assert [line for line in CODE_LINES if line not in shown_lines] == []


# 3. Streaming edits spend the channel's budget: five per five seconds.
async def test_streaming_edits_stay_within_the_channel_budget(discord_world: DiscordWorld) -> None:
    world = discord_world
    chunks = tuple(f"word{i:02d} " for i in range(60))
    world.openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.05))
    thread = await world.say("count slowly", mention=True)
    await world.bot_says(thread, "".join(chunks).strip())
    edits = [c.at for c in world.discord.calls_to("PATCH", f"/channels/{thread}/messages/")]
    assert edits, "the reply was never edited while it streamed"
    busiest = max(sum(1 for t in edits if start <= t < start + 5.0) for start in edits)
    assert busiest <= 5, f"{busiest} edits within 5 s: {[round(t - edits[0], 2) for t in edits]}"
    # A second apart while streaming (the final edit may follow sooner): ~3 s of stream.
    gaps = [b - a for a, b in itertools.pairwise(edits[:-1])]
    assert all(gap >= 0.95 for gap in gaps), [round(g, 2) for g in gaps]
    assert len(edits) <= 5


async def test_typing_shows_only_while_the_model_is_slow(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("quick",)))
    quick = await world.say("fast please", mention=True)
    await world.bot_says(quick, "quick")
    assert world.discord.calls_to("POST", f"/channels/{quick}/typing") == []

    release = asyncio.Event()  # the model says nothing until the typing indicator shows
    world.openai.enqueue(Script(chunks=("slow",), release=release))
    slow = await world.say("take your time", mention=True)
    await wait_until(lambda: bool(world.discord.calls_to("POST", f"/channels/{slow}/typing")))
    release.set()
    await world.bot_says(slow, "slow")
    assert len(world.discord.calls_to("POST", f"/channels/{slow}/typing")) == 1


async def test_threads_of_one_channel_each_have_their_own_edit_budget(
    discord_world: DiscordWorld,
) -> None:
    # Discord's buckets are per channel id and a thread has its own; sharing the parent's
    # five edits per five seconds made eight replies here wait ~5 s for their final edits.
    world = discord_world
    chunks = tuple(f"part{i} " for i in range(6))
    world.openai.enqueue(*[Script(chunks=chunks, delay_between_chunks=0.05)] * 8)
    threads = [await mention(world, f"question {n}") for n in range(8)]
    for thread in threads:
        await world.bot_says(thread, "".join(chunks).strip())
    # Counted, not timed: no edit was charged to the parent, whose five per five seconds
    # the sixteen edits just now would have spent.
    assert world.bot.client is not None
    assert world.bot.client.talk.throttle.delay(int(world.discord.channel_id)) == 0.0
    threaded = {call.path.split("/")[2] for call in world.discord.calls_to("PATCH", "/channels/")}
    assert threaded == set(threads)


# 4. The model provider is down.
async def test_a_model_outage_is_one_short_notice(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.default = Script(status=503, headers={"Retry-After": "0.05"})
    thread = await world.say("are you there?", mention=True)
    posted = await world.settled(thread, 1)
    assert len(posted) == 1
    assert "unavailable" in posted[0].content
    assert world.discord.posted(world.discord.channel_id) == []


# 5. The bot may not post where it was asked.
async def test_missing_permissions_log_one_clear_error_and_the_bot_lives_on(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = discord_world
    fake = world.discord
    event = fake.message_create(
        fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> hello", mentions=[fake.bot_user_id]
    )
    thread = str(event["id"])
    fake.fail_next("POST", f"/channels/{thread}/messages", status=403)
    await fake.dispatch("MESSAGE_CREATE", event)
    await world.turns.ended(1, world.key(thread))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert "missing permissions" in line and "Send Messages" in line
    world.openai.enqueue(Script(chunks=("Still here.",)))
    second = await world.say("again?", mention=True)
    await world.bot_says(second, "Still here.")


# 6. Access lists: someone not on allowed_users is refused without a model call.
@pytest.fixture
async def guarded_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    fake_discord.add_user(BOB, "bob")  # a member of the guild, not its owner: no admin
    extra = f'    allowed_users: ["{STRANGER}"]\n    on_denied: refuse\n'
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai, extra)
    async with running(config, fake_discord, fake_openai) as world:
        yield world


async def test_a_user_not_allowed_gets_a_refusal_and_no_model_call(
    guarded_world: DiscordWorld,
) -> None:
    world = guarded_world
    message = await mention(world, "let me in", author=BOB)

    def refused() -> bool:
        return any(m.content == REFUSAL for m in world.discord.posted(world.discord.channel_id))

    await world.turns.ended(1, world.key(message))
    assert refused()
    assert world.openai.requests == []
    (refusal,) = world.discord.posted(world.discord.channel_id)
    assert refusal.message_reference is not None
    assert refusal.message_reference["message_id"] == message
    # Alice owns the server, so she is an admin and passes allowed_users.
    world.openai.enqueue(Script(chunks=("Welcome back.",)))
    thread = await mention(world, "and me?")
    await world.bot_says(thread, "Welcome back.")


# 7. Attachments.
async def test_a_text_attachment_reaches_the_model(discord_world: DiscordWorld) -> None:
    world = discord_world
    fake = world.discord
    notes = fake.add_attachment("notes.txt", "text/plain", b"Launch is on Thursday at 9.")
    event = fake.message_create(
        fake.channel_id,
        fake.user_id,
        f"<@{fake.bot_user_id}> summarise my notes",
        mentions=[fake.bot_user_id],
        attachments=[notes],
    )
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: bool(fake.posted(str(event["id"]))))
    last = sent(world)[-1]
    assert last["role"] == "user"
    content = last["content"]
    text = content if isinstance(content, str) else json.dumps(content)
    assert "Launch is on Thursday at 9." in text
    assert "summarise my notes" in text


# 8. A restart with the same commands syncs nothing.
async def test_a_restart_with_unchanged_commands_does_not_sync_again(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)

    def puts() -> int:
        return sum(1 for c in fake_discord.calls if c.method == "PUT" and "/commands" in c.path)

    async with running(config, fake_discord, fake_openai):
        assert puts() == 1
    identified = fake_discord.identify_count
    async with running(config, fake_discord, fake_openai) as world:
        await wait_until(lambda: fake_discord.identify_count > identified)
        world.openai.enqueue(Script(chunks=("Back again.",)))
        thread = await world.say("still there?", mention=True)
        await world.bot_says(thread, "Back again.")
    assert puts() == 1


# 9. /ask in a DM.
async def test_ask_works_in_a_dm(discord_world: DiscordWorld) -> None:
    world = discord_world
    dm = str(world.discord.add_dm_channel(world.discord.user_id)["id"])
    world.openai.enqueue(Script(chunks=("Privately, ", "yes.")))
    event = world.discord.interaction_create("ask", options={"prompt": "psst?"}, channel_id=dm)
    await world.discord.dispatch("INTERACTION_CREATE", event)
    interaction = str(event["id"])

    def answered() -> bool:
        original = world.discord.interaction(interaction).original
        return original is not None and original.content == "Privately, yes."

    await wait_until(answered)
    assert world.discord.interaction(interaction).callback_type == 5
    assert "psst?" in str(sent(world)[-1]["content"])


# /persona by someone who is not an admin, and persona overrides from bots.yaml.
@pytest.fixture
async def persona_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    fake_discord.add_user(BOB, "bob")
    # The guild's override picks the pirate; a channel override would beat it.
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai, "")
    text = config.read_text().replace("{persona: helper}", "{persona: pirate}")
    config.write_text(text)
    async with running(config, fake_discord, fake_openai) as world:
        yield world


async def test_the_guild_override_applies_and_non_admins_cannot_switch(
    persona_world: DiscordWorld,
) -> None:
    world = persona_world
    thread = await mention(world, "ahoy")
    # Ended, not merely asked: the thread is opened with the reply's first post.
    await world.turns.ended(1, world.key(thread))
    assert world.openai.requests[-1]["model"] == "gpt-4o"  # the guild's pirate
    event = world.discord.interaction_create(
        "persona", options={"name": "helper"}, channel_id=thread, user_id=BOB
    )
    await world.discord.dispatch("INTERACTION_CREATE", event)
    interaction_id = str(event["id"])

    def refused() -> bool:
        original = world.discord.interaction(interaction_id).original
        return original is not None and "Only a Parley admin" in original.content

    await wait_until(refused)
    await world.discord.dispatch(
        "MESSAGE_CREATE", world.discord.message_create(thread, world.discord.user_id, "still?")
    )
    await wait_until(lambda: len(world.openai.requests) == 2)
    assert world.openai.requests[-1]["model"] == "gpt-4o"  # unchanged by bob's attempt


# mention_reply: reply — answers as replies, and replying to Parley continues the conversation.
@pytest.fixture
async def reply_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    config = write_config(
        tmp_path / "bots.yaml", fake_discord, fake_openai, "    mention_reply: reply\n"
    )
    async with running(config, fake_discord, fake_openai) as world:
        yield world


async def test_a_reply_chain_continues_without_threads_or_mentions(
    reply_world: DiscordWorld,
) -> None:
    world, fake = reply_world, reply_world.discord
    world.openai.default = echo_last_user
    first = await mention(world, "my name is alice")

    def replied(count: int) -> bool:
        return len(fake.posted(fake.channel_id)) >= count

    await wait_until(lambda: replied(1))
    answer = fake.posted(fake.channel_id)[0]
    # The fake shows a post a moment before Parley has its id back and has linked it;
    # the turn's task ends after that.
    await world.turns.ended(1, world.key(first))
    assert await world.runtime.store.linked_conversation("discord", answer.id) is not None
    assert answer.message_reference is not None
    assert str(answer.message_reference["message_id"]) == first
    # Alice replies to Parley's answer, without a mention: the conversation continues.
    follow = fake.message_create(
        fake.channel_id, fake.user_id, "what is my name?", referenced_message=answer.id
    )
    await fake.dispatch("MESSAGE_CREATE", follow)
    await wait_until(lambda: replied(2))
    users = [m["content"] for m in sent(world) if m["role"] == "user"]
    assert users == ["[Alice] my name is alice", "[Alice] what is my name?"]
    # A reply to someone else's message, without a mention, is not for Parley.
    other = fake.message_create(fake.channel_id, fake.user_id, "just a note")
    await fake.dispatch("MESSAGE_CREATE", other)
    aside = fake.message_create(
        fake.channel_id, fake.user_id, "agreed", referenced_message=str(other["id"])
    )
    await fake.dispatch("MESSAGE_CREATE", aside)
    await world.turns.ended(1, world.key(str(aside["id"])))  # looked at, and let go
    assert len(world.openai.requests) == 2


@pytest.fixture
async def channel_override_world(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> AsyncIterator[DiscordWorld]:
    extra = f'    channels:\n      "{fake_discord.channel_id}": {{persona: pirate}}\n'
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai, extra)
    async with running(config, fake_discord, fake_openai) as world:
        yield world


async def test_a_channel_override_beats_the_guilds(channel_override_world: DiscordWorld) -> None:
    world = channel_override_world
    await mention(world, "ahoy")  # the guild says helper, #general says pirate
    await wait_until(lambda: len(world.openai.requests) == 1)
    assert world.openai.requests[-1]["model"] == "gpt-4o"
    assert sent(world)[0]["content"] == "Talk like a pirate."


async def test_reset_during_a_streaming_reply_is_acknowledged_at_once(
    discord_world: DiscordWorld,
) -> None:
    """Discord gives an interaction 3 s: /reset is deferred before it waits for the reply."""
    world = discord_world
    world.openai.default = Script(
        chunks=tuple(f"w{n} " for n in range(60)), delay_between_chunks=0.1
    )
    thread = await world.say("a long story please", mention=True)
    await wait_until(lambda: bool(world.discord.posted(thread)))
    event = world.discord.interaction_create("reset", channel_id=thread)
    await world.discord.dispatch("INTERACTION_CREATE", event)
    reset = world.discord.interaction(str(event["id"]))
    await wait_until(lambda: reset.acknowledged)
    # Acknowledged while the reply is still streaming (the thread is not yet reset).
    assert reset.original is None or "forgotten" not in reset.original.content
    history = await world.runtime.store.recent_messages(
        ConversationKey("discord", world.discord.guild_id, world.discord.channel_id, thread), 5
    )
    assert history.messages[-1].status == "partial"

    def reset_done() -> bool:
        return reset.original is not None and "forgotten this thread" in reset.original.content

    await wait_until(reset_done)


async def test_a_command_that_fails_in_the_tree_gets_one_answer_and_one_line(
    discord_world: DiscordWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """A command Discord still shows but this bot no longer has (a stale sync) fails inside
    discord.py's command tree: the user gets the short notice, the log one line."""
    world = discord_world
    event = world.discord.interaction_create("gone", options={})
    await world.discord.dispatch("INTERACTION_CREATE", event)
    interaction = str(event["id"])

    def answered() -> bool:
        original = world.discord.interaction(interaction).original
        return original is not None and "Something went wrong" in original.content

    await wait_until(answered)
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in failures] == ["discord"]
    assert "/gone failed" in failures[0].getMessage()
    assert "CommandNotFound" in failures[0].getMessage()
    assert all(r.exc_info is None for r in failures)
