"""The model side of `parley run` (the provider clients), built once its bots are connected:
earlier it delays the connection, at the first turn it delays that reply (and stalls every
bot in the process while it loads). Tokenizers are not loaded here: a conversation loads
one only when it comes near its context budget (core/tokens.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from bots.monitoring import Connectable
from core.config import Config
from core.providers import ModelClients

log = logging.getLogger(__name__)

CHECK_EVERY = 0.1  # seconds between looks at the bots' connections
# A bot that cannot connect must not leave the others' first turns slow for long.
LONGEST_WAIT = 30.0


async def until_connected(bots: Sequence[Connectable], until: float) -> None:
    """Returns once every bot is connected, or at `until` (time.monotonic()) at the latest."""
    # The adapters report a state, not an event; a look every CHECK_EVERY costs nothing.
    while not all(bot.connected for bot in bots) and time.monotonic() < until:  # noqa: ASYNC110
        await asyncio.sleep(CHECK_EVERY)


async def warm_up_once_connected(
    bots: Sequence[Connectable], config: Config, models: ModelClients
) -> None:
    """Waits until every bot is connected (at most LONGEST_WAIT), then loads in a worker
    thread; a turn that starts meanwhile waits for what it needs, as it would have anyway."""
    await until_connected(bots, time.monotonic() + LONGEST_WAIT)
    loading = asyncio.ensure_future(asyncio.to_thread(warm_up, config, models))
    try:
        await asyncio.shield(loading)
    except asyncio.CancelledError:
        # The thread cannot be stopped: the clients it builds must exist before they close.
        await loading
        raise


def warm_up(config: Config, models: ModelClients) -> None:
    """Builds each used provider's client."""
    personas = config.personas.values()
    try:
        in_use = {persona.provider: config.providers[persona.provider] for persona in personas}
        for problem in models.prepare(in_use.values()):
            log.debug("model client not prepared: %s", problem)
    except Exception as error:  # the first turn that needs it raises it again, to the user
        log.warning("model side not loaded ahead: %s: %s", type(error).__name__, error)
