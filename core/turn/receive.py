"""A message's arrival: a late-joined thread seeded, then the message stored and its
delivery marked seen in one transaction, before anything slow happens."""

from __future__ import annotations

import asyncio
import logging

from core.attachments import render_input
from core.config import BotConfig, Config
from core.errors import ParleyError
from core.store import Store
from core.store.arrivals import Arrival, Claim
from core.text import scrub_prior
from core.turn.rows import TokenCounter, never_answered, prior_rows, reply_placeholder, user_row
from core.types import IncomingMessage

log = logging.getLogger("core.engine")

# Reading a thread Parley joins late is one or a few platform calls; past this the turn
# goes on with what the store has.
EARLIER_SECONDS = 10.0


def delivery_claim(bot: BotConfig, message: IncomingMessage) -> Claim | None:
    """Deliveries are claimed per platform and bot: two bots in one workspace both answer."""
    if not message.delivery:
        return None
    return Claim(f"{message.key.platform}:{bot.name}", message.delivery)


class Receiver:
    """Stores what arrives; tells a first delivery from a redelivery."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._in_flight: set[int] = set()  # user rows of this process's unfinished turns

    async def receive(
        self, config: Config, bot: BotConfig, message: IncomingMessage, count: TokenCounter
    ) -> tuple[Arrival | None, bool]:
        """The rows to answer into, or None for a delivery answered before; and whether a
        thread joined late had more messages than were read."""
        older_unread = False
        if message.joined_late and not await self._store.knows(message.key):
            older_unread = await self._seed(config, message, count)
        rendered = render_input(
            message.text,
            message.attachments,
            text_limit=config.limits.attachment_chars,
            vision=False,
        )
        rows = [user_row(message, rendered, count), reply_placeholder(bot.name)]
        arrival = await self._store.receive(message.key, delivery_claim(bot, message), rows)
        if arrival is None or not self._answerable(arrival):
            return None, False
        # Marked before the next await: a redelivery racing this turn must see it.
        self._in_flight.add(arrival.user_id)
        if not arrival.first:
            # Atomic: of two replicas handed redeliveries of one message, one reopens it.
            if not await self._store.reopen_interrupted(arrival.reply_id):
                self._in_flight.discard(arrival.user_id)
                return None, False
            log.info("turn %s: answering a redelivered message never answered", message.key)
        return arrival, older_unread

    def _answerable(self, arrival: Arrival) -> bool:
        if arrival.first:
            return True
        if arrival.user_id in self._in_flight:
            return False
        return never_answered(
            arrival.reply_status, arrival.reply_content, arrival.reply_error, arrival.reply_tools
        )

    def ended(self, arrival: Arrival) -> None:
        self._in_flight.discard(arrival.user_id)

    async def _seed(self, config: Config, message: IncomingMessage, count: TokenCounter) -> bool:
        """The thread so far, newest first from the adapter, stored oldest first."""
        limit = config.limits.seed_messages
        if message.lookups is None or limit == 0:
            return False
        try:
            async with asyncio.timeout(EARLIER_SECONDS):
                earlier = await message.lookups.earlier(limit)
        except (ParleyError, TimeoutError) as error:
            log.warning("turn %s: the thread so far could not be read: %s", message.key, error)
            return False
        found = [m for m in earlier.messages[:limit] if m.message_id != message.message_id]
        if found:
            await self._store.add_messages(message.key, prior_rows(scrub_prior(found[::-1]), count))
        return earlier.more
