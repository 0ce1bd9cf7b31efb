"""The end of a reply: shown final when the model ends it, its usage figures awaited after."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.errors import ParleyError
from core.model_events import ModelEvent
from core.turn.state import Turn, turn_usage
from core.types import TurnSummary, Usage

# After the model has finished its reply (shown final by then), how long the usage figures
# and the stream's end are waited for; Parley counts the tokens itself when they do not come.
USAGE_WAIT_SECONDS = 2.0

log = logging.getLogger("core.engine")


@dataclass
class Ending:
    """The reply was finished on the platform as soon as the model ended it, before its
    usage figures came and before it was stored; `undelivered`: the platform refused it."""

    sink_finished: bool = False
    undelivered: ParleyError | None = None


def summary_of(turn: Turn) -> TurnSummary:
    return TurnSummary(
        reply_id=turn.assistant_id,
        dropped_messages=turn.window.dropped_messages,
        older_omitted=turn.window.older_omitted or turn.older_unread,
        input_truncated=turn.window.input_truncated,
        unread_attachments=turn.unread,
        usage=turn_usage(turn),
    )


async def usage_after_end(events: AsyncIterator[ModelEvent], turn: Turn) -> None:
    """The usage figures that follow the reply's end, waited for a little: the reply is whole
    without them, so a stream that stalls or breaks now costs only Parley's own count."""
    try:
        async with asyncio.timeout(USAGE_WAIT_SECONDS):
            async for event in events:
                if isinstance(event, Usage):
                    turn.usage = event
    except (ParleyError, TimeoutError) as late:
        log.info(
            "turn %s: the stream did not end cleanly after the reply: %s", turn.message.key, late
        )
