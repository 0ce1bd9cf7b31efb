"""A mention's thread whose creation Discord carried out but whose answer was lost."""

from __future__ import annotations

from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.fakes.openai_server import Script

__all__ = ["discord_env", "discord_world"]


async def test_a_thread_made_before_its_answer_was_lost_gets_the_reply(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    fake = world.discord
    threads_made = f"/channels/{fake.channel_id}/messages/"
    # Discord makes the thread, then answers 500; discord.py asks again and is told the
    # message has a thread already (160004). Seen in bench.load_replicas under load.
    fake.fail_next("POST", threads_made, status=500, after=True)
    world.openai.enqueue(Script(chunks=("still answered",)))
    thread = await world.say("hello there", mention=True)
    await world.bot_says(thread, "still answered")
    assert [m.content for m in await world.settled(thread)] == ["still answered"]
    assert len(fake.calls_to("POST", threads_made)) == 2  # the lost answer and the retry
