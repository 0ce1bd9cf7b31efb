"""Conversation keys to row ids: looked up once, then remembered for hot conversations."""

from __future__ import annotations

from collections import OrderedDict

from core.errors import StoreError
from core.store import queries as q
from core.store.records import key_params
from core.store.sql import Conn
from core.types import ConversationKey

# Enough for every conversation active at once on a busy install; a miss costs one query.
CACHE_SIZE = 4096


class ConversationIds:
    """The store replaces this whenever conversation rows may have been deleted (retention,
    `parley forget`, another process's commit), so a remembered id never goes stale."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._ids: OrderedDict[ConversationKey, int] = OrderedDict()

    def cached(self, key: ConversationKey) -> int | None:
        found = self._ids.get(key)
        if found is not None:
            self._ids.move_to_end(key)
        return found

    def remember(self, key: ConversationKey, conversation_id: int) -> None:
        """Call only once the row is committed: a rolled-back id could be reused."""
        self._ids[key] = conversation_id
        self._ids.move_to_end(key)
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)

    async def find(self, conn: Conn, key: ConversationKey) -> int | None:
        cached = self.cached(key)
        if cached is not None:
            return cached
        # One trip to SQLite's thread; a cursor's execute, fetchone and close are three.
        rows = list(await conn.fetch(q.FIND_CONVERSATION_SQL, key_params(key)))
        return int(rows[0][0]) if rows else None

    async def ensure(self, conn: Conn, key: ConversationKey, now: str) -> tuple[int, bool]:
        """The conversation's id, and whether this call created its row (inside the
        caller's transaction, if any)."""
        cached = self.cached(key)
        if cached is not None:
            return cached, False
        # The insert goes first: a conversation not cached is most often a new one (a new
        # thread), and then one trip both makes and finds it.
        params = (*key_params(key), now)
        created = list(await conn.fetch(q.CREATE_CONVERSATION_SQL, params))
        if created:
            return int(created[0][0]), True
        found = await self.find(conn, key)
        if found is None:  # the conflict above makes this unreachable
            raise StoreError(f"conversation {key} vanished while being created")
        return found, False
