"""A message's arrival: its delivery claimed and its rows stored in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.store import queries as q
from core.store.records import NewMessage
from core.store.sql import Conn
from core.store.statements import insert_messages
from core.types import MessageStatus

# The user's row of a delivery already stored, and the reply row that follows it.
_STORED_DELIVERY_SQL: Final = (
    "SELECT id, role, status, content, error, token_count, tools FROM messages"
    " WHERE conversation_id = ? AND id >= ("
    "  SELECT id FROM messages WHERE conversation_id = ? AND role = 'user'"
    "  AND platform_message_id = ? ORDER BY id DESC LIMIT 1"
    " ) ORDER BY id LIMIT 2"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery to answer once: `scope` names the bot, `delivery` the platform's id."""

    scope: str
    delivery: str


@dataclass(frozen=True, slots=True)
class Arrival:
    """Where a message's rows are; `first` is False for a redelivery of a stored message."""

    user_id: int
    reply_id: int
    user_tokens: int  # the user row's token_count, so the turn need not count it again
    first: bool = True
    reply_status: MessageStatus = "partial"
    reply_content: str = ""
    reply_error: str = ""
    reply_tools: str = ""


async def claim(conn: Conn, found: Claim, now: str) -> bool:
    """True the first time the delivery is seen, inside the caller's transaction."""
    params = (found.scope, found.delivery, now)
    return bool(await conn.fetch(q.CLAIM_EVENT_SQL, params))


async def store_rows(
    conn: Conn, conversation_id: int, rows: list[NewMessage], now: str, replica: str
) -> Arrival:
    user_id, reply_id = await insert_messages(conn, conversation_id, rows, now, replica)
    return Arrival(user_id, reply_id, rows[0].token_count)


async def stored_delivery(conn: Conn, conversation_id: int, message_id: str) -> Arrival | None:
    """The rows a claimed delivery left, if its message was stored with a reply row."""
    params = (conversation_id, conversation_id, message_id)
    rows = list(await conn.fetch(_STORED_DELIVERY_SQL, params))
    if len(rows) < 2 or rows[0][1] != "user" or rows[1][1] != "assistant":
        return None
    (user_id, *_, user_tokens, _), (reply_id, _, status, content, error, _, tools) = rows
    return Arrival(
        int(user_id),
        int(reply_id),
        int(user_tokens),
        False,
        status,
        str(content),
        str(error),
        str(tools),
    )
