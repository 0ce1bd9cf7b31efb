"""What a restart tells the threads whose tool calls a killed run left unfinished."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bots.platforms import BotRunner
from bots.warm_up import LONGEST_WAIT, until_connected
from core.errors import ParleyError, StoreError
from core.store import Store
from core.tools.exchange import restart_note
from core.types import ConversationKey

log = logging.getLogger(__name__)

# A platform that does not take a note within this long is not waited for.
NOTE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Leftover:
    bot: str
    key: ConversationKey
    note: str


async def leftover_notes(store: Store, bots: list[str]) -> list[Leftover]:
    """Read before the sweep marks the rows: the calls each killed turn left running or
    waiting, as one note per thread."""
    try:
        found = await store.unfinished_tool_turns(bots, datetime.now(UTC))
    except StoreError as error:
        log.warning("unfinished tool calls of a stopped run were not read: %s", error)
        return []
    return [Leftover(bot, key, note) for bot, key, tools in found if (note := restart_note(tools))]


async def post_once_connected(runners: Mapping[str, BotRunner], leftovers: list[Leftover]) -> None:
    """Each note in its thread once its bot is connected; one the platform refuses is logged."""
    if not leftovers:
        return
    until = time.monotonic() + LONGEST_WAIT
    for leftover in leftovers:
        runner = runners.get(leftover.bot)
        if runner is None:
            continue
        await until_connected([runner], until)
        try:
            async with asyncio.timeout(NOTE_SECONDS):
                await runner.notify(leftover.key, leftover.note)
        except (ParleyError, TimeoutError) as error:
            log.warning("%s: the restart note was not posted: %s", leftover.key, error)
