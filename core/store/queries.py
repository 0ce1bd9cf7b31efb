"""Every SQL statement the store runs, as constants so tests can check their query plans."""

from __future__ import annotations

from typing import Final

FIND_CONVERSATION_SQL: Final = (
    "SELECT id FROM conversations"
    " WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?"
)

CREATE_CONVERSATION_SQL: Final = (
    "INSERT INTO conversations (platform, workspace, channel, thread, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (platform, workspace, channel, thread) DO NOTHING RETURNING id"
)

_INSERT_MESSAGES_HEAD: Final = (
    "INSERT INTO messages (conversation_id, role, author_id, author_name, content, status,"
    " error, token_count, platform_message_id, created_at, replica) VALUES "
)
_MESSAGE_VALUES: Final = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Rows per statement; 11 parameters each stays far below SQLite's parameter limit.
INSERT_MESSAGES_BATCH: Final = 100


def insert_messages_sql(rows: int) -> str:
    """One statement for `rows` messages: atomic on its own, and one trip to SQLite's thread.

    RETURNING's row order is unspecified, but ids grow in VALUES order, so sorted ids
    match the rows.
    """
    return _INSERT_MESSAGES_HEAD + ", ".join([_MESSAGE_VALUES] * rows) + " RETURNING id"


# A NULL platform_message_id keeps the stored one.
# A reply row is "partial" with no error only while its turn runs (see core/rows.py).
# The tool exchanges of the replies MARK_INTERRUPTED_SQL is about to mark.
INTERRUPTED_TOOLS_SQL: Final = (
    "SELECT id, tools FROM messages"
    " WHERE role = 'assistant' AND status = 'partial' AND error = '' AND tools != ''"
    " AND author_id IN ({bots}) AND created_at < ?{mine}"
)
# The same replies with their bot and conversation, for the notes a restart posts.
UNFINISHED_TOOL_TURNS_SQL: Final = (
    "SELECT m.author_id, c.platform, c.workspace, c.channel, c.thread, m.tools"
    " FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id"
    " WHERE m.role = 'assistant' AND m.status = 'partial' AND m.error = '' AND m.tools != ''"
    " AND m.author_id IN ({bots}) AND m.created_at < ?{mine} ORDER BY m.id"
)
SET_TOOLS_SQL: Final = "UPDATE messages SET tools = ? WHERE id = ? RETURNING id"

MARK_INTERRUPTED_SQL: Final = (
    "UPDATE messages SET error = ?,"
    " status = CASE WHEN content = '' THEN 'failed' ELSE 'partial' END"
    " WHERE role = 'assistant' AND status = 'partial' AND error = ''"
    " AND author_id IN ({bots}) AND created_at < ?{mine}"
)
# Appended where replicas share the database: a replica sweeps only the replies it wrote.
ONLY_MINE_SQL: Final = " AND replica = ?"

UPDATE_MESSAGE_SQL: Final = (
    "UPDATE messages SET content = ?, status = ?, token_count = ?, error = ?,"
    " platform_message_id = COALESCE(?, platform_message_id), tools = COALESCE(?, tools)"
    " WHERE id = ? RETURNING id"
)

# A reply a stopped process left with nothing shown, taken up again by one replica only.
REOPEN_INTERRUPTED_SQL: Final = (
    "UPDATE messages SET status = 'partial', error = '', token_count = 0, replica = ?"
    " WHERE id = ? AND role = 'assistant' AND status <> 'complete' AND content = ''"
    " AND tools = '' AND error LIKE 'interrupted%' RETURNING id"
)

REVISE_MESSAGE_SQL: Final = (
    "UPDATE messages SET author_name = ?, content = ?, token_count = ? WHERE id = ? RETURNING id"
)

# Newest first so LIMIT keeps the tail; the caller asks for one extra row to learn
# whether older messages exist, and reverses the result.
RECENT_MESSAGES_SQL: Final = (
    "SELECT id, role, author_id, author_name, content, status, token_count, created_at,"
    " platform_message_id, error, tools"
    " FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?"
)

DELETE_MESSAGES_SQL: Final = "DELETE FROM messages WHERE conversation_id = ?"

INSERT_USAGE_SQL: Final = (
    "INSERT INTO usage (created_at, platform, workspace, channel, thread, bot, persona,"
    " model, user_id, prompt_tokens, completion_tokens, cached_tokens, message_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# DO NOTHING makes the claim one atomic statement, on every replica; RETURNING says who got
# there first in the same round trip (a cursor's row count would cost a second one).
CLAIM_EVENT_SQL: Final = (
    "INSERT INTO processed_events (scope, event_id, created_at) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING 1"
)

EVENT_SEEN_SQL: Final = "SELECT 1 FROM processed_events WHERE scope = ? AND event_id = ?"

PRUNE_EVENTS_SQL: Final = "DELETE FROM processed_events WHERE created_at < ?"
# Appended once per kept scope prefix: those claims are permanent markers, not dedup records.
KEEP_SCOPE_SQL: Final = " AND substr(scope, 1, length(CAST(? AS TEXT))) <> ?"

# In batches, each its own transaction, so a first prune of a big file never holds the
# write lock long enough to stall a turn.
PRUNE_MESSAGES_SQL: Final = (
    "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE created_at < ? LIMIT ?)"
)
PRUNE_BATCH: Final = 2000

PRUNE_USAGE_SQL: Final = "DELETE FROM usage WHERE created_at < ?"

# Conversations (ids as a JSON array) that hold no message any more, with their keys.
EMPTY_CONVERSATIONS_SQL: Final = (
    "SELECT id, platform, workspace, channel, thread FROM conversations AS c"
    " WHERE c.id IN (SELECT value FROM json_each(?))"
    " AND NOT EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = c.id)"
)

# Emptied by age: created before the cutoff and holding nothing now.
STALE_CONVERSATIONS_SQL: Final = (
    "SELECT id FROM conversations AS c WHERE c.created_at < ?"
    " AND NOT EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = c.id)"
)

DELETE_LINKS_SQL: Final = (
    "DELETE FROM message_links WHERE conversation_id IN (SELECT value FROM json_each(?))"
)
DELETE_CONVERSATIONS_SQL: Final = (
    "DELETE FROM conversations WHERE id IN (SELECT value FROM json_each(?))"
)
# A thread's persona choice describes that conversation; it goes with it (every bot's).
DELETE_THREAD_CHOICES_SQL: Final = (
    "DELETE FROM persona_choices"
    " WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ? AND thread <> ''"
)

# `parley forget --user`: only what that person wrote; usage keeps its totals anonymously.
USER_CONVERSATIONS_SQL: Final = (
    "SELECT DISTINCT conversation_id FROM messages WHERE role = 'user' AND author_id = ?"
)
DELETE_USER_MESSAGES_SQL: Final = "DELETE FROM messages WHERE role = 'user' AND author_id = ?"
ANONYMISE_USAGE_SQL: Final = "UPDATE usage SET user_id = ? WHERE user_id = ?"

COUNT_MESSAGES_IN_SQL: Final = (
    "SELECT count(*) FROM messages WHERE conversation_id IN (SELECT value FROM json_each(?))"
)

# Every message of one conversation, oldest first, with the usage of the call that wrote it.
EXPORT_MESSAGES_SQL: Final = (
    "SELECT m.id, m.role, m.author_id, m.author_name, m.content, m.status, m.token_count,"
    " m.created_at, m.platform_message_id, m.error, u.prompt_tokens, u.completion_tokens"
    " FROM messages AS m LEFT JOIN usage AS u ON u.message_id = m.id AND m.role = 'assistant'"
    " WHERE m.conversation_id = ? ORDER BY m.id"
)

# Most recently active first, for `parley conversations`.
RECENT_CONVERSATIONS_SQL: Final = (
    "SELECT c.platform, c.workspace, c.channel, c.thread, count(*), max(m.created_at)"
    " FROM conversations AS c JOIN messages AS m ON m.conversation_id = c.id"
    " GROUP BY c.id ORDER BY max(m.id) DESC LIMIT ?"
)

DATA_VERSION_SQL: Final = "PRAGMA data_version"

INTEGRITY_CHECK_SQL: Final = "PRAGMA integrity_check"

ALL_PERSONA_CHOICES_SQL: Final = (
    "SELECT bot, platform, workspace, channel, thread, persona FROM persona_choices"
)

SET_PERSONA_CHOICE_SQL: Final = (
    "INSERT INTO persona_choices"
    " (bot, platform, workspace, channel, thread, persona, chosen_by, chosen_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (bot, platform, workspace, channel, thread) DO UPDATE SET"
    " persona = excluded.persona, chosen_by = excluded.chosen_by, chosen_at = excluded.chosen_at"
)

CLEAR_PERSONA_CHOICE_SQL: Final = (
    "DELETE FROM persona_choices"
    " WHERE bot = ? AND platform = ? AND workspace = ? AND channel = ? AND thread = ?"
)

LINK_MESSAGE_SQL: Final = (
    "INSERT INTO message_links (platform, message_id, conversation_id) VALUES (?, ?, ?)"
    " ON CONFLICT (platform, message_id) DO UPDATE SET conversation_id = excluded.conversation_id"
)

LINKED_CONVERSATION_SQL: Final = (
    "SELECT c.platform, c.workspace, c.channel, c.thread FROM message_links AS l"
    " JOIN conversations AS c ON c.id = l.conversation_id"
    " WHERE l.platform = ? AND l.message_id = ?"
)

# Usage per day and dimension; reports group these further. The usage_by_time index keeps
# the period filter cheap however long usage is kept. A turn with tool rounds has one row a
# round, all naming its reply: counted as one turn (a row with no reply, -id, as its own).
USAGE_ROWS_SQL: Final = (
    "SELECT substr(created_at, 1, 10), platform, workspace, channel, bot, persona, model,"
    " user_id, count(DISTINCT coalesce(message_id, -id)),"
    " sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens)"
    " FROM usage WHERE created_at >= ? AND created_at < ?"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
)

# Budgets: the spend of a period, then (every so often) only what other processes added.
# `+id` and `+created_at` keep each query on the range it is meant to seek: the time index
# for a period's first load, the rowid for the rows added since.
USAGE_WATERMARK_SQL: Final = "SELECT coalesce(max(id), 0) FROM usage"
_SPEND_COLUMNS: Final = USAGE_ROWS_SQL.split(" FROM usage")[0]
_SPEND_GROUPS: Final = " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
SPEND_SINCE_SQL: Final = (
    _SPEND_COLUMNS + " FROM usage WHERE created_at >= ? AND +id <= ?" + _SPEND_GROUPS
)
SPEND_ADDED_SQL: Final = (
    _SPEND_COLUMNS + " FROM usage WHERE id > ? AND id <= ? AND +created_at >= ?" + _SPEND_GROUPS
)
