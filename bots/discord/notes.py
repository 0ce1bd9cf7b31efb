"""Notes Parley posts in a Discord conversation outside any turn (what a restart found there)."""

from __future__ import annotations

import aiohttp
import discord

from bots.discord.reply import MESSAGE_LIMIT, NO_PINGS
from bots.discord.router import DM_WORKSPACE
from core.errors import ParleyError
from core.types import ConversationKey

UNKNOWN_CHANNEL = 10003  # Discord's JSON error code for a channel (or thread) id it does not know
ONE_OFF_QUESTION = "ask-"  # a /ask answered in a channel: its key's thread names the interaction


async def post_note(client: discord.Client, key: ConversationKey, text: str) -> None:
    """One message where the conversation's replies go: the DM, the thread, or under the
    reply chain's root; raises ParleyError when Discord refuses it or cannot be reached."""
    note = text[:MESSAGE_LIMIT]
    try:
        if key.workspace == DM_WORKSPACE or key.thread.startswith(ONE_OFF_QUESTION):
            # A /ask's interaction token has expired by now: the channel is what is left.
            await _send(client.get_partial_messageable(int(key.channel)), note)
            return
        await _in_thread_or_chain(client, key, note)
    except (discord.HTTPException, aiohttp.ClientError, OSError, ValueError) as error:
        raise ParleyError(f"discord: the note in {key} was not posted: {error}") from error


async def _in_thread_or_chain(client: discord.Client, key: ConversationKey, note: str) -> None:
    """A key's thread is a thread's id or a reply chain's root (a thread started from a
    message shares its id): the thread is tried first, at the cost of one refused call."""
    try:
        await _send(client.get_partial_messageable(int(key.thread)), note)
        return
    except discord.NotFound as error:
        if error.code != UNKNOWN_CHANNEL:
            raise
    channel = client.get_partial_messageable(int(key.channel))
    root = channel.get_partial_message(int(key.thread))
    # A deleted root must not cost the note: Discord then posts it as a plain message.
    reference = root.to_reference(fail_if_not_exists=False)
    await channel.send(note, reference=reference, allowed_mentions=NO_PINGS)


async def _send(target: discord.PartialMessageable, note: str) -> None:
    await target.send(note, allowed_mentions=NO_PINGS)
