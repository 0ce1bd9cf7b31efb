"""A conversation's turns in order across replicas: one replica answers in a thread at a
time, and a message is answered only after the earlier ones other live replicas took.

Session advisory locks, not a queue table: a replica that dies releases its locks at once
(PostgreSQL ends its session), so nothing expires or needs sweeping, and taking one costs a
single statement on a connection the replica already holds. The order inside a replica is
kept by the engine (core/turn/order.py); this keeps it between replicas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

from core.store.postgres.coordination import PostgresCoordination
from core.store.records import key_params
from core.store.sql import Conn
from core.types import ConversationKey

log = logging.getLogger(__name__)

ConnSource = Callable[[str], AbstractAsyncContextManager[Conn]]

# A reply another live replica has not finished, earlier in the same conversation.
_EARLIER_UNFINISHED_SQL: Final = (
    "SELECT m.replica FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id"
    " WHERE c.platform = ? AND c.workspace = ? AND c.channel = ? AND c.thread = ?"
    " AND m.role = 'assistant' AND m.status = 'partial' AND m.error = ''"
    " AND m.id < ? AND m.replica <> ? ORDER BY m.id DESC LIMIT 1"
)
# Turns are bounded (limits.tool_turn_seconds, 15 minutes by default); a reply left unfinished
# longer by a replica that lives on (its store failed mid-turn) must not stop the thread.
EARLIER_PATIENCE: Final = 20 * 60.0


def lock_name(key: ConversationKey) -> str:
    return "turn:" + "\x1f".join(key_params(key))


def arrival_lock_name(key: ConversationKey) -> str:
    """Held only while a message is stored: a reply's id then tells which message came first
    across replicas, since no row of the conversation commits out of id order."""
    return "arrive:" + "\x1f".join(key_params(key))


class ConversationTurns:
    def __init__(self, coordination: PostgresCoordination) -> None:
        self._coordination = coordination

    @asynccontextmanager
    async def turn(
        self, conn_for: ConnSource, key: ConversationKey, reply_id: int | None
    ) -> AsyncIterator[None]:
        name = lock_name(key)
        started = time.monotonic()
        while True:
            await self._coordination.take_turn(name)
            waiting_for = None
            if reply_id is not None:
                waiting_for = await self._earlier_live(conn_for, key, reply_id)
            if waiting_for is None or time.monotonic() - started > EARLIER_PATIENCE:
                break
            # Its replica took the message before this one but has not taken the lock yet:
            # let it go first, and wake it: it is most likely waiting for this very lock
            # (a silent release cost it the 1 s recheck, every turn of a busy thread).
            await self._coordination.end_turn(name)
            log.debug("turn %s waits for replica %s to answer first", key, waiting_for)
            await self._coordination.wait_for_turn_end(name)
        try:
            yield
        finally:
            await self._coordination.end_turn(name)

    async def _earlier_live(
        self, conn_for: ConnSource, key: ConversationKey, reply_id: int
    ) -> str | None:
        params = (*key_params(key), reply_id, self._coordination.replica)
        async with conn_for("ordering turns") as conn:
            rows = await conn.fetch(_EARLIER_UNFINISHED_SQL, params)
        if not rows:
            return None
        replica = str(rows[0][0])
        # A dead replica's reply waits for its restart's sweep, not for this thread.
        if await self._coordination.held_elsewhere(f"replica:{replica}"):
            return replica
        return None
