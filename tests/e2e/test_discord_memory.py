"""The Discord bot keeps no copies of the messages it has seen or sent."""

from __future__ import annotations

from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world

__all__ = ["discord_env", "discord_world"]


async def test_no_message_is_kept_after_a_turn(discord_world: DiscordWorld) -> None:
    world = discord_world
    thread = await world.say("hi", mention=True)
    posts = await world.settled(thread)
    assert posts  # the reply was posted, and edited while it streamed
    await world.caught_up()  # every event before it has been handled
    client = world.bot.client
    assert client is not None
    assert len(client.cached_messages) == 0, [m.id for m in client.cached_messages][:5]
