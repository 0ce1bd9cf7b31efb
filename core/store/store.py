"""Parley's memory: conversations, usage and seen events, in SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from core.coordination import Coordination
from core.errors import StoreError
from core.store import arrivals, erasure
from core.store import queries as q
from core.store.backend import Backend
from core.store.choices import PersonaChoices
from core.store.connection import connect
from core.store.conversation_ids import ConversationIds
from core.store.database import SqliteDatabase
from core.store.erasure import Erased, Place
from core.store.feedback import FeedbackBook, conversation_feedback
from core.store.ledger import Ledger
from core.store.receiving import Receipt, ReceiveBatches, Written
from core.store.records import (
    ConversationSummary,
    ExportedMessage,
    History,
    NewMessage,
    UsageRecord,
    exported_from_row,
    key_params,
    message_from_row,
    stored_messages,
    summary_from_row,
    to_timestamp,
    usage_params,
    utc_now,
)
from core.store.sql import Conn, IntegrityViolation
from core.store.statements import insert_messages
from core.store.tail_cache import TailCache
from core.types import ConversationKey, MessageStatus

log = logging.getLogger(__name__)


class Store:
    """Every write is committed on return; the caches learn only what was committed.

    Build it with `await Store.open(path)` (SQLite) or `await Store.connect(url)`
    (PostgreSQL). `clock` exists so tests can age rows.
    """

    def __init__(self, db: Backend) -> None:
        self._db = db
        self._clock = db.clock
        self._replica = db.coordination.replica
        self.ledger = Ledger(self._db)  # usage and answered events
        self.feedback = FeedbackBook(self._db)  # 👍/👎 on replies
        self._tails = self._new_tails()
        self._choices = PersonaChoices()
        self._ids = self._new_ids()
        self._receipts = ReceiveBatches(
            self._db, self._sync_caches, self._write_receipt, self._receipt_committed
        )
        self._reloads: set[asyncio.Task[None]] = set()
        db.on_change(self._changed_elsewhere)

    @classmethod
    async def open(
        cls, path: Path, *, clock: Callable[[], datetime] = utc_now, replica: str = ""
    ) -> Store:
        store = cls(SqliteDatabase(await connect(path), clock, path, replica))
        await store._load_persona_choices()
        return store

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        replica: str = "",
        pool_min: int = 2,
        pool_max: int = 10,
        synchronous_commit: bool = False,
    ) -> Store:
        """A store on PostgreSQL, shared with every other replica connected to `url`."""
        # Imported here: a SQLite install never loads asyncpg.
        from core.store.postgres.database import PostgresDatabase

        db = await PostgresDatabase.connect(
            url,
            clock=clock,
            replica=replica,
            pool_min=pool_min,
            pool_max=pool_max,
            synchronous_commit=synchronous_commit,
        )
        store = cls(db)
        await store._load_persona_choices()
        return store

    @property
    def coordination(self) -> Coordination:
        """Roles and one-at-a-time jobs shared with the other replicas on this database."""
        return self._db.coordination

    def _new_tails(self) -> TailCache:
        return TailCache() if self._db.caching else TailCache(conversations=0)

    def _new_ids(self) -> ConversationIds:
        return ConversationIds() if self._db.caching else ConversationIds(size=0)

    async def _sync_caches(self, conn: Conn) -> None:
        """Drop every cache if another process committed since the last look: its deletes
        would otherwise live on in memory."""
        if await self._db.changed_elsewhere(conn):
            await self._reset_caches(conn)

    def _changed_elsewhere(self) -> None:
        """Another replica chose a persona or erased rows: persona choices are read on every
        turn without a query, so they are reloaded now rather than at the next store call."""
        reload = asyncio.create_task(self._load_persona_choices(), name="persona-choices")
        self._reloads.add(reload)
        reload.add_done_callback(self._reloads.discard)

    async def _reset_caches(self, conn: Conn) -> None:
        self._tails = self._new_tails()
        self._ids = self._new_ids()
        await self._choices.load(conn)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def add_messages(self, key: ConversationKey, messages: Sequence[NewMessage]) -> list[int]:
        """Store messages in order, all or none; all are durable when this returns."""
        now = to_timestamp(self._clock())
        if len(messages) <= q.INSERT_MESSAGES_BATCH:
            async with self._db.single_statements(f"saving messages in {key}") as conn:
                await self._sync_caches(conn)
                known = self._ids.cached(key)
                if known is not None:
                    # The hot path: one statement is its own transaction, no BEGIN/COMMIT.
                    try:
                        inserted = await insert_messages(conn, known, messages, now, self._replica)
                    except IntegrityViolation:
                        # Another process deleted the conversation after it was cached
                        # (`parley forget`): start it afresh below rather than lose these.
                        await self._reset_caches(conn)
                    else:
                        # Committed by the statement itself, and still under the lock.
                        self._tails.append(known, stored_messages(inserted, messages, now))
                        return inserted
        ids: list[int] = []
        async with self._db.writing(f"saving messages in {key}") as conn:
            conversation_id, _ = await self._ids.ensure(conn, key, to_timestamp(self._clock()))
            for start in range(0, len(messages), q.INSERT_MESSAGES_BATCH):
                batch = messages[start : start + q.INSERT_MESSAGES_BATCH]
                ids += await insert_messages(conn, conversation_id, batch, now, self._replica)
        # Cached only once committed: a rolled-back conversation's id could be reused.
        self._ids.remember(key, conversation_id)
        self._tails.drop(conversation_id)  # the next read loads it afresh
        return ids

    def turn(
        self, key: ConversationKey, reply_id: int | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Held while a turn answers `reply_id` in `key` (or a command runs there): other
        replicas on the database wait, and this one waits for replies they took earlier."""
        return self._db.turn(key, reply_id)

    def arriving(self, key: ConversationKey) -> AbstractAsyncContextManager[None]:
        """Held while a message of `key` is stored (see Backend.arriving)."""
        return self._db.arriving(key)

    async def receive(
        self, key: ConversationKey, claim: arrivals.Claim | None, rows: list[NewMessage]
    ) -> arrivals.Arrival | None:
        """A user's message and its reply's placeholder stored, and its delivery marked seen,
        in one transaction: a crash never leaves a delivery seen but its message lost.

        A delivery seen before returns the rows it left (`first` False), or None when it
        left none (it was refused, or was a command). Deliveries received together share
        their transaction (see ReceiveBatches).
        """
        now = to_timestamp(self._clock())
        if claim is not None:
            return await self._receipts.receive(key, claim, rows, now)
        # Without a claim the rows go in as one INSERT, atomic alone: the BEGIN and COMMIT of
        # a transaction would be two more round trips on every turn.
        async with self._db.single_statements(f"receiving a message in {key}") as conn:
            await self._sync_caches(conn)
            conversation_id, created = await self._ids.ensure(conn, key, now)
            arrival = await arrivals.store_rows(conn, conversation_id, rows, now, self._replica)
        self._received_rows(key, Written(arrival, conversation_id, created, True), rows, now)
        return arrival

    async def _write_receipt(self, conn: Conn, receipt: Receipt) -> Written:
        """One receipt's statements, inside its batch's transaction."""
        key, claim, now = receipt.key, receipt.claim, receipt.now
        conversation_id, created = await self._ids.ensure(conn, key, now)
        if not await arrivals.claim(conn, claim, now):
            message_id = receipt.rows[0].platform_message_id
            found = await arrivals.stored_delivery(conn, conversation_id, message_id)
            return Written(found, conversation_id, created, stored=False)
        arrival = await arrivals.store_rows(conn, conversation_id, receipt.rows, now, self._replica)
        return Written(arrival, conversation_id, created, stored=True)

    def _receipt_committed(self, receipt: Receipt, written: Written) -> None:
        self._received_rows(receipt.key, written, receipt.rows, receipt.now)

    def _received_rows(
        self, key: ConversationKey, written: Written, rows: list[NewMessage], now: str
    ) -> None:
        """The caches learn of committed rows."""
        arrival = written.arrival
        if not written.stored or arrival is None:
            return
        self._ids.remember(key, written.conversation_id)
        stored = stored_messages([arrival.user_id, arrival.reply_id], rows, now)
        if written.created:
            # These rows are the whole conversation: its history is known without a query.
            self._tails.put(written.conversation_id, History(tuple(stored), more_before=False))
        else:
            self._tails.append(written.conversation_id, stored)

    async def update_message(
        self,
        message_id: int,
        *,
        content: str,
        status: MessageStatus,
        token_count: int,
        error: str = "",
        platform_message_id: str | None = None,
        usage: UsageRecord | None = None,
        tools: str | None = None,
    ) -> None:
        """Replace a message's text and status; None keeps its platform message id and its
        tool exchange.

        `usage`, the cost of the model call that wrote it, lands in the same transaction.
        """
        params = (content, status, token_count, error, platform_message_id, tools, message_id)
        # Two single-statement transactions, not one BEGIN..COMMIT of four trips: this runs
        # on every turn. The message goes first; a kill between the two loses one usage
        # row, never the reply the user saw.
        async with self._db.single_statements(f"updating message {message_id}") as conn:
            if not await conn.fetch(q.UPDATE_MESSAGE_SQL, params):
                raise StoreError(f"there is no message {message_id} to update")
            self._tails.update(
                message_id,
                content=content,
                status=status,
                token_count=token_count,
                error=error,
                platform_message_id=platform_message_id,
                tools=tools,
            )
            if usage is not None:
                await conn.run(q.INSERT_USAGE_SQL, usage_params(usage, self._clock()))

    async def reopen_interrupted(self, message_id: int) -> bool:
        """Takes up a reply a stopped process left with nothing shown (its message came again):
        True for the one caller that gets it, on whichever replica."""
        params = (self._replica, message_id)
        async with self._db.single_statements(f"reopening message {message_id}") as conn:
            if not await conn.fetch(q.REOPEN_INTERRUPTED_SQL, params):
                return False
            self._tails.update(
                message_id, content="", status="partial", token_count=0, error="",
                platform_message_id=None, tools=None,
            )  # fmt: skip
        return True

    async def revise_message(
        self, message_id: int, *, author_name: str, content: str, token_count: int
    ) -> None:
        """A stored user message completed once its names and files came in."""
        params = (author_name, content, token_count, message_id)
        async with self._db.single_statements(f"revising message {message_id}") as conn:
            if not await conn.fetch(q.REVISE_MESSAGE_SQL, params):
                raise StoreError(f"there is no message {message_id} to revise")
            self._tails.revise(
                message_id, author_name=author_name, content=content, token_count=token_count
            )

    async def record_tools(self, message_id: int, tools: str) -> None:
        """A reply's tool exchange so far, written before a call runs and after it ends: a
        process killed in between leaves the call on record, so it is never run again."""
        async with self._db.single_statements(f"recording tools of {message_id}") as conn:
            if not await conn.fetch(q.SET_TOOLS_SQL, (tools, message_id)):
                raise StoreError(f"there is no message {message_id} to update")
            self._tails.update_tools(message_id, tools)

    async def record_usage(self, usage: UsageRecord) -> None:
        """The cost of one model call of a turn still running (a round that asked for tools):
        counted at once, so budgets see it before the next round."""
        async with self._db.single_statements("recording usage") as conn:
            await conn.run(q.INSERT_USAGE_SQL, usage_params(usage, self._clock()))

    async def unfinished_tool_turns(
        self, bots: Sequence[str], before: datetime
    ) -> list[tuple[str, ConversationKey, str]]:
        """The replies mark_interrupted would mark that called tools: bot, conversation and
        tool exchange, read before marking, so a restart can tell each thread what became
        of its calls."""
        if not bots:
            return []
        sql, params = self._sweep(q.UNFINISHED_TOOL_TURNS_SQL, bots, before, alias="m.")
        async with self._db.single_statements("reading unfinished tool calls") as conn:
            rows = await conn.fetch(sql, params)
        return [
            (str(bot), ConversationKey(str(p), str(w), str(c), str(t)), str(tools))
            for bot, p, w, c, t, tools in rows
        ]

    def _sweep(
        self, sql: str, bots: Sequence[str], before: datetime, alias: str = ""
    ) -> tuple[str, tuple[str, ...]]:
        """A sweep's statement and parameters: these bots' rows from before `before`, and
        only this replica's where several share the database."""
        params: tuple[str, ...] = (*bots, to_timestamp(before))
        mine = ""
        if not self._db.sweeps_every_replica:
            mine = q.ONLY_MINE_SQL.replace("replica", alias + "replica")
            params = (*params, self._replica)
        return sql.format(bots=", ".join("?" for _ in bots), mine=mine), params

    async def mark_interrupted(
        self,
        bots: Sequence[str],
        before: datetime,
        note: str,
        settle: Callable[[str], str] = lambda tools: tools,
    ) -> int:
        """Replies of these bots that a killed process left in progress, started before
        `before`, get `note` as their error: partial if they hold text, else failed. Their
        tool exchanges are rewritten by `settle` (calls left running or waiting end there).
        On PostgreSQL only this replica's own replies: the others' are live.

        Call it before the bots serve: a reply still "in progress" then can only be one a
        previous process never finished. Returns how many were marked.
        """
        if not bots:
            return 0
        tools_sql, where = self._sweep(q.INTERRUPTED_TOOLS_SQL, bots, before)
        sql, _ = self._sweep(q.MARK_INTERRUPTED_SQL, bots, before)
        async with self._db.single_statements("marking interrupted replies") as conn:
            for message_id, tools in await conn.fetch(tools_sql, where):
                await conn.fetch(q.SET_TOOLS_SQL, (settle(str(tools)), message_id))
            marked = await conn.run(sql, (note, *where))
            if marked:
                self._tails = self._new_tails()  # cached rows still say "in progress"
        return marked

    async def recent_messages(self, key: ConversationKey, limit: int) -> History:
        """The last `limit` messages of this conversation, oldest first."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        async with self._db.single_statements(f"loading the history of {key}") as conn:
            await self._sync_caches(conn)
            conversation_id = await self._ids.find(conn, key)
            if conversation_id is None:
                return History(messages=(), more_before=False)
            self._ids.remember(key, conversation_id)
            hit = self._tails.get(conversation_id, limit)
            if hit is not None:
                return hit
            rows = await conn.fetch(q.RECENT_MESSAGES_SQL, (conversation_id, limit + 1))
            messages = [message_from_row(row) for row in rows]
            newest = messages[:limit]
            history = History(tuple(reversed(newest)), more_before=len(messages) > limit)
            self._tails.put(conversation_id, history)
        return history

    async def knows(self, key: ConversationKey) -> bool:
        """Whether this conversation is stored; cached, so hot threads cost one cheap check."""
        async with self._db.single_statements(f"looking up {key}") as conn:
            await self._sync_caches(conn)
            found = await self._ids.find(conn, key)
        if found is not None:
            self._ids.remember(key, found)
        return found is not None

    async def forget(self, key: ConversationKey) -> int:
        """Delete this conversation's messages and return how many there were."""
        async with self._db.writing(f"forgetting {key}") as conn:
            conversation_id = await self._ids.find(conn, key)
            if conversation_id is None:
                return 0
            # The conversation row stays (it holds no content) so cached ids stay valid.
            self._tails.drop(conversation_id)
            return await conn.run(q.DELETE_MESSAGES_SQL, (conversation_id,))

    async def transcript(self, key: ConversationKey) -> list[ExportedMessage] | None:
        """Every stored message of this conversation, oldest first; None if none is stored."""
        async with self._db.single_statements(f"exporting {key}") as conn:
            rows = await conn.fetch(q.FIND_CONVERSATION_SQL, key_params(key))
            found = [int(row[0]) for row in rows]
            if not found:
                return None
            rows = await conn.fetch(q.EXPORT_MESSAGES_SQL, (found[0],))
            ratings = await conversation_feedback(conn, found[0])
        exported = [exported_from_row(row) for row in rows]
        return [
            replace(m, feedback=tuple(r for r in ratings if r.message_id == m.message.id))
            for m in exported
        ]

    async def recent_conversations(self, limit: int) -> list[ConversationSummary]:
        """The most recently active conversations that hold messages, newest first."""
        async with self._db.single_statements("listing conversations") as conn:
            rows = await conn.fetch(q.RECENT_CONVERSATIONS_SQL, (limit,))
        return [summary_from_row(row) for row in rows]

    async def link_messages(self, key: ConversationKey, message_ids: Sequence[str]) -> None:
        """Remember that these platform messages belong to `key` (it must be stored)."""
        async with self._db.single_statements(f"linking messages to {key}") as conn:
            await self._sync_caches(conn)
            conversation_id = await self._ids.find(conn, key)
            if conversation_id is None:
                return
            rows = [(key.platform, message_id, conversation_id) for message_id in message_ids]
            await conn.run_many(q.LINK_MESSAGE_SQL, rows)

    async def linked_conversation(self, platform: str, message_id: str) -> ConversationKey | None:
        async with self._db.single_statements(f"following message {message_id}") as conn:
            rows = list(await conn.fetch(q.LINKED_CONVERSATION_SQL, (platform, message_id)))
        return ConversationKey(*(str(v) for v in rows[0])) if rows else None

    async def prune_messages(self, older_than: timedelta) -> Erased:
        """Delete messages stored more than `older_than` ago, then the conversations that
        hold nothing any more; in batches, so turns go on meanwhile."""
        cutoff = to_timestamp(self._clock() - older_than)
        messages = 0
        while True:
            async with self._db.writing("pruning old messages") as conn:
                deleted = await erasure.prune_messages_batch(conn, cutoff)
                if deleted:
                    # Cached tails may hold the deleted rows; the ids stay valid until below.
                    # Most hourly runs delete nothing and keep the hot threads in memory.
                    self._tails = self._new_tails()
            messages += deleted
            if deleted < q.PRUNE_BATCH:
                break
        async with self._db.writing("pruning empty conversations") as conn:
            conversations = await erasure.drop_stale_conversations(conn, cutoff)
            if conversations:
                await self._reset_caches(conn)
                await self._db.announce_change(conn)
        return Erased(messages=messages, conversations=conversations)

    async def forget_place(self, place: Place, *, dry_run: bool = False) -> Erased:
        """Delete every conversation in this conversation, channel or workspace."""
        async with self._erasing(f"forgetting {place}", dry_run) as conn:
            return await erasure.forget_place(conn, place)

    async def forget_user(self, user_id: str, *, dry_run: bool = False) -> Erased:
        """Delete every message this user wrote; their usage rows lose their user id."""
        async with self._erasing(f"forgetting user {user_id}", dry_run) as conn:
            return await erasure.forget_user(conn, user_id)

    @asynccontextmanager
    async def _erasing(self, action: str, dry_run: bool) -> AsyncIterator[Conn]:
        """A transaction that is rolled back for a dry run (exact counts, nothing deleted)."""
        async with self._db.writing(action, keep=not dry_run) as conn:
            yield conn
            if not dry_run:
                await self._reset_caches(conn)
                await self._db.announce_change(conn)

    def chosen_persona(self, bot: str, key: ConversationKey) -> str | None:
        """The persona picked in chat for this thread, else for its channel; no I/O."""
        return self._choices.chosen(bot, key)

    async def choose_persona(
        self,
        bot: str,
        key: ConversationKey,
        persona: str | None,
        *,
        whole_channel: bool,
        chosen_by: str,
    ) -> None:
        """Pick `persona` for the thread (or the whole channel); None goes back to bots.yaml."""
        now = to_timestamp(self._clock())
        async with self._db.single_statements(f"choosing a persona in {key}") as conn:
            await self._choices.choose(
                conn, bot, key, persona, whole_channel=whole_channel, chosen_by=chosen_by, now=now
            )
            await self._db.announce_change(conn)

    async def _load_persona_choices(self) -> None:
        try:
            async with self._db.single_statements("loading persona choices") as conn:
                await self._choices.load(conn)
        except StoreError as error:
            # A damaged file still opens, so integrity_ok() can say what is wrong.
            log.warning("persona choices not loaded, using bots.yaml's: %s", error)

    async def probe(self, patience: float) -> str | None:
        """Commits (SQLite) or writes and rolls back (PostgreSQL) a turn's worth of bytes on a
        connection of its own: None if it could, else why not. The store's data is never
        touched; `patience` bounds the wait, so a stuck database shows at once."""
        return await self._db.probe(patience)

    async def integrity_ok(self) -> bool:
        """Whether SQLite's own integrity check passes; a corrupt file gives False."""
        return await self._db.integrity_ok()

    async def close(self) -> None:
        for reload in list(self._reloads):
            reload.cancel()
        await self._receipts.wait()
        await self._db.close()
