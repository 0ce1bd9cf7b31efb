"""The database schema as an ordered list of migrations, tracked with PRAGMA user_version."""

from __future__ import annotations

from typing import Final

import aiosqlite

from core.errors import StoreError

# Set on every connection, before journal_mode=WAL (which, unlike these, the file keeps).
# synchronous=NORMAL under WAL survives a killed process (only an OS crash can lose the
# last commits), and the file itself always stays consistent.
PRAGMAS: Final = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
)

_SCHEMA_V1: Final = (
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel, thread)
    )
    """,
    # AUTOINCREMENT so an id is never reused after `forget`: usage rows keep pointing at
    # the message they were recorded for, and id order stays creation order.
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        content TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('complete', 'partial', 'failed')),
        error TEXT NOT NULL DEFAULT '',
        token_count INTEGER NOT NULL CHECK (token_count >= 0),
        platform_message_id TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    )
    """,
    # Loading a thread's last N messages is a seek plus N steps, whatever the table size.
    "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
    # The key is copied rather than referenced and message_id is no foreign key: usage is
    # an accounting record that must outlive `forget`.
    """
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL,
        bot TEXT NOT NULL,
        persona TEXT NOT NULL,
        model TEXT NOT NULL,
        user_id TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        message_id INTEGER
    )
    """,
    "CREATE INDEX usage_by_time ON usage (created_at)",
    """
    CREATE TABLE processed_events (
        scope TEXT NOT NULL,
        event_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (scope, event_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX processed_events_by_time ON processed_events (created_at)",
)

_PERSONA_CHOICES_V2: Final = (
    # A persona picked in chat (Discord's /persona) for a channel (thread '') or one thread.
    """
    CREATE TABLE persona_choices (
        bot TEXT NOT NULL,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL,
        persona TEXT NOT NULL,
        chosen_by TEXT NOT NULL,
        chosen_at TEXT NOT NULL,
        PRIMARY KEY (bot, platform, workspace, channel, thread)
    ) WITHOUT ROWID
    """,
)

_MESSAGE_LINKS_V3: Final = (
    # Which conversation a message Parley posted belongs to, so that replying to it on a
    # platform without threads (a Discord reply chain) continues that conversation.
    """
    CREATE TABLE message_links (
        platform TEXT NOT NULL,
        message_id TEXT NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id),
        PRIMARY KEY (platform, message_id)
    ) WITHOUT ROWID
    """,
)

_RETENTION_V4: Final = (
    # Pruning by age reads only the old rows, not the whole table, every hour.
    "CREATE INDEX messages_by_time ON messages (created_at)",
    # Deleting a conversation must first delete its links (that key has no cascade).
    "CREATE INDEX message_links_by_conversation ON message_links (conversation_id)",
)

_FEEDBACK_V5: Final = (
    # One 👍/👎 per user and reply. Like usage, the reply's place, bot, persona and model are
    # copied (reports group by them without a join) and message_id is no foreign key:
    # counts outlive `forget` and retention of the conversation's text.
    """
    CREATE TABLE feedback (
        message_id INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
        clicked_at TEXT NOT NULL,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL,
        bot TEXT NOT NULL,
        persona TEXT NOT NULL,
        model TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (message_id, user_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX feedback_by_time ON feedback (clicked_at)",
)

_TOOLS_V6: Final = (
    # A reply's tool exchange (the calls the model asked for, their state and results, as
    # JSON; see core/tools/exchange.py), replayed with the reply in later turns.
    "ALTER TABLE messages ADD COLUMN tools TEXT NOT NULL DEFAULT ''",
)

_REPLICAS_V7: Final = (
    # Which replica wrote a row: with several on one PostgreSQL, a restart sweeps only the
    # replies its own replica left unfinished. The columns stay the same on both databases.
    "ALTER TABLE messages ADD COLUMN replica TEXT NOT NULL DEFAULT ''",
)

# MIGRATIONS[n] takes a database from user_version n to n + 1. Append only: a released
# migration is never edited, because files in the field have already run it.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    _SCHEMA_V1,
    _PERSONA_CHOICES_V2,
    _MESSAGE_LINKS_V3,
    _RETENTION_V4,
    _FEEDBACK_V5,
    _TOOLS_V6,
    _REPLICAS_V7,
)


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(conn: aiosqlite.Connection) -> None:
    """Bring the file up to len(MIGRATIONS), one transaction per migration.

    The version is re-read inside each write transaction, so two processes opening the
    same new file at once cannot both run a migration.
    """
    known = len(MIGRATIONS)
    found = await schema_version(conn)
    if found > known:
        raise StoreError(
            f"database schema version {found} is newer than this Parley (knows {known}); "
            "upgrade Parley"
        )
    for target in range(found + 1, known + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if await schema_version(conn) < target:
                for statement in MIGRATIONS[target - 1]:
                    await conn.execute(statement)
                # PRAGMA takes no parameters; target is an int we computed.
                await conn.execute(f"PRAGMA user_version = {target:d}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
