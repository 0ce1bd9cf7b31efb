"""What the user is shown of a reply, kept in the store beside the stream."""

from __future__ import annotations

import asyncio
import logging

from core.errors import ParleyError
from core.store import Store
from core.text import scrub
from core.turn.state import Turn
from core.types import ReplySink

log = logging.getLogger("core.engine")


async def show_text(store: Store, turn: Turn, sink: ReplySink, text: str) -> None:
    """Text reaches the user and the stored reply together: the record is what was shown."""
    text = scrub(text)
    turn.reply.append(text)
    await sink.append(text)
    if turn.shown_write is None and sink.shown:
        # Once per turn: the row holds the first words the user saw, so a process killed
        # mid-reply leaves a row that says "answered, in part" and a redelivery of the
        # message is not answered twice. Written beside the stream, not in its way; the
        # final write waits for it.
        write = store.update_message(
            turn.assistant_id, content="".join(turn.reply), status="partial", token_count=0
        )
        turn.shown_write = asyncio.create_task(write)


async def first_words_kept(turn: Turn) -> bool:
    """Whether the store took the turn's first words (or there were none to write)."""
    if turn.shown_write is None:
        return True
    try:
        await asyncio.shield(turn.shown_write)
    except ParleyError:
        return False
    return True


async def first_words_written(turn: Turn) -> None:
    if turn.shown_write is None:
        return
    try:
        await asyncio.shield(turn.shown_write)
    except ParleyError as error:
        # The final write carries the same text; only a kill in between would miss it.
        log.warning("turn %s: the first words were not recorded: %s", turn.message.key, error)
