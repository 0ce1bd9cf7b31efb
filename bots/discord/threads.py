"""The thread a mention opens: made once, even when Discord made it and its answer was lost."""

from __future__ import annotations

import discord

# Discord's code for "A thread has already been created for this message".
THREAD_ALREADY_MADE = 160004


async def thread_from(message: discord.Message, name: str) -> discord.Thread:
    """Starts the thread on `message`, or finds the one an earlier request started: a 5xx
    that discord.py retried after Discord had made it, or a request cut off mid-flight (the
    typing indicator that asked for it is cancelled once the first words come)."""
    try:
        return await message.create_thread(name=name)
    except discord.HTTPException as error:
        if error.code != THREAD_ALREADY_MADE or message.guild is None:
            raise
        refused = error
    # A thread started from a message has the message's id.
    found = await message.guild.fetch_channel(message.id)
    if not isinstance(found, discord.Thread):
        raise refused
    return found
