"""The retention job: deletes what bots.yaml says not to keep, at start-up and then hourly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from core.config import StorageConfig
from core.errors import StoreError
from core.store import Erased, Store

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
# Dedup records only need to outlive a platform's retries (minutes); a week is generous.
EVENTS_KEPT = timedelta(days=7)


async def prune_once(store: Store, storage: StorageConfig, keep_scopes: Sequence[str]) -> Erased:
    """One pass of every retention rule; logs one line of counts (never content)."""
    pruned = Erased()
    if storage.retention_days is not None:
        pruned = await store.prune_messages(timedelta(days=storage.retention_days))
    usage = 0
    if storage.usage_retention_days is not None:
        kept = timedelta(days=storage.usage_retention_days)
        usage = await store.ledger.prune_usage(kept)
        # Ratings are accounting records too: kept as long as usage, counted with it.
        usage += await store.feedback.prune(kept)
    events = await store.ledger.prune_events(EVENTS_KEPT, keep=keep_scopes)
    result = Erased(pruned.messages, pruned.conversations, usage, events)
    log.info(
        "retention: deleted %d message(s), %d conversation(s), %d usage row(s), %d event(s)",
        *(result.messages, result.conversations, result.usage_rows, result.events),
        extra={
            "deleted_messages": result.messages,
            "deleted_conversations": result.conversations,
            "deleted_usage_rows": result.usage_rows,
            "deleted_events": result.events,
        },
    )
    return result


async def keep_pruning(
    store: Store,
    storage: Callable[[], StorageConfig],
    keep_scopes: Sequence[str] = (),
    every: timedelta = PRUNE_EVERY,
) -> None:
    """Prune now and every `every` until cancelled; reads the settings in force each time.
    Replicas sharing a database take turns: a pass another replica is running is skipped."""
    while True:
        try:
            async with store.coordination.once("retention") as ours:
                if ours:
                    await prune_once(store, storage(), keep_scopes)
                else:
                    log.debug("retention: another replica is pruning; skipped this pass")
        except StoreError as error:
            # A busy or damaged file: the bots keep serving, the next pass tries again.
            log.warning("retention: pruning failed, will retry: %s", error)
        await asyncio.sleep(every.total_seconds())
