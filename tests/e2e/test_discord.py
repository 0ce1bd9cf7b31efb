"""Parley in Discord end to end: real discord.py, fake Discord and fake model on loopback."""

from __future__ import annotations

from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world, sent
from tests.fakes.discord_server import wait_until
from tests.fakes.openai_server import Script, echo_last_user

__all__ = ["discord_env", "discord_world"]


async def test_a_mention_opens_a_thread_and_the_reply_streams_there(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Ahoy ", "there, ", "alice!"), delay_between_chunks=0.05))
    message_id = await world.say("hello bot", mention=True)
    # A thread started from a message takes the message's id.
    await world.bot_says(message_id, "Ahoy there, alice!")
    assert world.discord.channel(message_id)["name"] == "hello bot"
    system = sent(world)[0]["content"]
    assert system.startswith("You are disco in ")


async def test_thread_follow_ups_need_no_mention_and_remember(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.default = echo_last_user
    thread = await world.say("my name is alice", mention=True)
    await wait_until(lambda: bool(world.discord.posted(thread)))
    await world.say("what is my name?", channel=thread)
    await world.bot_says(thread, "echo: [Alice] what is my name?")
    users = [m["content"] for m in sent(world) if m["role"] == "user"]
    assert users == ["[Alice] my name is alice", "[Alice] what is my name?"]


async def test_a_message_replayed_after_resume_is_answered_once(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    fake = world.discord
    event = fake.message_create(
        fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> once", mentions=[fake.bot_user_id]
    )
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: bool(fake.posted(str(event["id"]))))
    await fake.dispatch("MESSAGE_CREATE", event)  # the same message again, as a RESUME replays
    await world.turns.ended(2, world.key(str(event["id"])))  # the replay's turn ended too
    assert len(world.openai.requests) == 1


async def test_plain_channel_messages_are_not_answered(discord_world: DiscordWorld) -> None:
    await discord_world.say("just chatting with friends")
    await discord_world.caught_up()
    assert discord_world.openai.requests == []


async def test_commands_are_synced_once_for_an_unchanged_set(discord_world: DiscordWorld) -> None:
    fake = discord_world.discord
    puts = [c for c in fake.calls if c.method == "PUT" and "/commands" in c.path]
    assert len(puts) == 1
    names = sorted(command["name"] for command in fake.commands(fake.guild_id))
    assert names == ["ask", "chat", "persona", "reset"]


async def command(world: DiscordWorld, name: str, **options: object) -> str:
    event = world.discord.interaction_create(name, options=options or None)
    await world.discord.dispatch("INTERACTION_CREATE", event)
    return str(event["id"])


async def test_ask_defers_then_streams_into_the_original_response(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Forty", "-two."), delay_between_chunks=0.05))
    interaction_id = await command(world, "ask", prompt="the answer?")

    def answered() -> bool:
        original = world.discord.interaction(interaction_id).original
        return original is not None and original.content == "Forty-two."

    await wait_until(answered)
    assert world.discord.interaction(interaction_id).callback_type == 5  # deferred at once


async def test_chat_opens_a_thread_that_continues_without_mentions(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.default = echo_last_user
    interaction_id = await command(world, "chat", prompt="plan the offsite")

    def started() -> bool:
        original = world.discord.interaction(interaction_id).original
        return original is not None and original.content.startswith("Let's talk in <#")

    await wait_until(started)
    original = world.discord.interaction(interaction_id).original
    assert original is not None
    thread = original.content.split("<#")[1].split(">")[0]
    await world.bot_says(thread, "echo: [Alice] plan the offsite")
    await world.say("somewhere warm please", channel=thread)
    await world.bot_says(thread, "echo: [Alice] somewhere warm please")


async def test_reset_and_persona_in_a_thread(discord_world: DiscordWorld) -> None:
    world = discord_world
    thread = await world.say("remember me", mention=True)
    await wait_until(lambda: bool(world.discord.posted(thread)))
    event = world.discord.interaction_create("reset", channel_id=thread)
    await world.discord.dispatch("INTERACTION_CREATE", event)
    reset_id = str(event["id"])

    def reset_done() -> bool:
        original = world.discord.interaction(reset_id).original
        return original is not None and "forgotten this thread (2 messages)" in original.content

    await wait_until(reset_done)
    # Alice owns the server, so she is an admin: the switch applies to this thread.
    event = world.discord.interaction_create(
        "persona", options={"name": "pirate"}, channel_id=thread
    )
    await world.discord.dispatch("INTERACTION_CREATE", event)
    persona_id = str(event["id"])

    def switched() -> bool:
        original = world.discord.interaction(persona_id).original
        return original is not None and "Here I'm **pirate**" in original.content

    await wait_until(switched)
    await world.say("arr?", channel=thread)
    await wait_until(lambda: len(world.openai.requests) == 2)
    assert world.openai.requests[-1]["model"] == "gpt-4o"


async def test_a_thread_made_but_whose_answer_was_lost_is_used_not_made_again(
    discord_world: DiscordWorld,
) -> None:
    """Discord made the thread but its answer was a 500: discord.py sends the request again
    and Discord refuses (160004, a thread exists for this message). The reply goes on in
    the thread that exists."""
    world = discord_world
    fake = world.discord
    world.openai.enqueue(Script(chunks=("Made ", "once.")))
    text = f"<@{fake.bot_user_id}> hello bot"
    event = fake.message_create(fake.channel_id, fake.user_id, text, mentions=[fake.bot_user_id])
    message_id = str(event["id"])
    path = f"/channels/{fake.channel_id}/messages/{message_id}/threads"
    fake.fail_next("POST", path, status=500, after=True)
    await fake.dispatch("MESSAGE_CREATE", event)
    await world.bot_says(message_id, "Made once.")
    assert len([c for c in fake.calls if c.path == path]) == 2
