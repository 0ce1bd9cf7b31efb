"""👍/👎 on Parley's replies: one rating per user and reply, and the sums reports read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from core.store.backend import Backend
from core.store.records import FeedbackEntry, from_timestamp, to_timestamp
from core.store.sql import Conn
from core.types import ConversationKey, FeedbackClick, FeedbackResult

# The reply, where it lives and, once its usage is recorded, the persona and model it used.
_REPLY_SQL: Final = (
    "SELECT c.platform, c.workspace, c.channel, c.thread, m.author_id, u.persona, u.model"
    " FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id"
    " LEFT JOIN usage AS u ON u.message_id = m.id"
    " WHERE m.id = ? AND m.role = 'assistant' LIMIT 1"
)
_RATING_SQL: Final = (
    "SELECT rating, clicked_at, persona FROM feedback WHERE message_id = ? AND user_id = ?"
)
_INSERT_SQL: Final = (
    "INSERT INTO feedback (message_id, user_id, rating, clicked_at, platform, workspace,"
    " channel, thread, bot, persona, model, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHANGE_SQL: Final = (
    "UPDATE feedback SET rating = ?, clicked_at = ? WHERE message_id = ? AND user_id = ?"
)
# Ratings per place, bot, persona and model clicked in [since, until); reports group further.
ROWS_SQL: Final = (
    "SELECT platform, workspace, bot, persona, model,"
    " sum(CASE WHEN rating = 'up' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN rating = 'down' THEN 1 ELSE 0 END)"
    " FROM feedback WHERE clicked_at >= ? AND clicked_at < ? GROUP BY 1, 2, 3, 4, 5"
)
# Every rating of one conversation's replies, for `parley export`.
CONVERSATION_SQL: Final = (
    "SELECT f.message_id, f.user_id, f.rating, f.clicked_at FROM feedback AS f"
    " WHERE f.message_id IN (SELECT id FROM messages WHERE conversation_id = ?)"
    " ORDER BY f.message_id, f.clicked_at"
)
PRUNE_SQL: Final = "DELETE FROM feedback WHERE clicked_at < ?"
# `parley forget --user`: the ratings stay counted, each under a pseudonym of its own (one
# shared name would collide on a reply two forgotten users rated).
ANONYMISE_SQL: Final = (
    "UPDATE feedback SET user_id = 'forgotten-' || lower(hex(randomblob(8))) WHERE user_id = ?"
)

# What the engine tells the store of a reply whose usage is not recorded (yet): the persona
# and the model its bot would use there now.
PersonaOf = Callable[[str, ConversationKey], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """Ratings summed per platform, workspace, bot, persona and model."""

    platform: str
    workspace: str
    bot: str
    persona: str
    model: str
    up: int
    down: int


class FeedbackBook:
    """The feedback table; it holds no conversation content and needs no cache."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    async def rate(self, click: FeedbackClick, persona_of: PersonaOf) -> tuple[FeedbackResult, str]:
        """Stores the click in one transaction: a doubled or redelivered click changes
        nothing, a changed mind replaces the rating, an older click never undoes a newer.
        Returns what happened and the rated reply's persona ("" if unknown)."""
        clicked_at = to_timestamp(click.clicked_at)
        async with self._db.writing(f"storing feedback on reply {click.reply_id}") as conn:
            rows = list(await conn.fetch(_REPLY_SQL, (click.reply_id,)))
            if not rows or not _rated_where_shown(click, rows[0]):
                return "unknown", ""
            stored = list(await conn.fetch(_RATING_SQL, (click.reply_id, click.user_id)))
            if stored:
                rating, at, persona = stored[0]
                if rating == click.rating:
                    return "unchanged", str(persona)
                if str(at) > clicked_at:
                    return "stale", str(persona)
                params = (click.rating, clicked_at, click.reply_id, click.user_id)
                await conn.run(_CHANGE_SQL, params)
                return "changed", str(persona)
            row = _new_row(click, rows[0], persona_of, to_timestamp(self._db.clock()))
            await conn.run(_INSERT_SQL, row)
        return "stored", str(row[9])

    async def rows(self, since: datetime, until: datetime) -> list[FeedbackRow]:
        params = (to_timestamp(since), to_timestamp(until))
        async with self._db.single_statements("reading feedback") as conn:
            rows = await conn.fetch(ROWS_SQL, params)
        return [_feedback_row(row) for row in rows]

    async def prune(self, older_than: timedelta) -> int:
        cutoff = to_timestamp(self._db.clock() - older_than)
        async with self._db.writing("pruning old feedback") as conn:
            return await conn.run(PRUNE_SQL, (cutoff,))


def _feedback_row(row: Sequence[Any]) -> FeedbackRow:
    platform, workspace, bot, persona, model, up, down = row
    return FeedbackRow(
        str(platform), str(workspace), str(bot), str(persona), str(model), int(up), int(down)
    )


async def conversation_feedback(conn: Conn, conversation_id: int) -> list[FeedbackEntry]:
    rows = await conn.fetch(CONVERSATION_SQL, (conversation_id,))
    return [
        FeedbackEntry(int(m), str(user), "up" if rating == "up" else "down", from_timestamp(at))
        for m, user, rating, at in rows
    ]


def _rated_where_shown(click: FeedbackClick, reply: Sequence[Any]) -> bool:
    """The reply is this bot's and lives where the click happened: its conversation's
    channel, or (a Discord thread) the thread itself."""
    platform, workspace, channel, thread, bot = (str(v) for v in reply[:5])
    place = (click.platform, click.workspace, click.bot)
    return place == (platform, workspace, bot) and click.channel in (channel, thread)


def _new_row(
    click: FeedbackClick, reply: Sequence[Any], persona_of: PersonaOf, now: str
) -> tuple[Any, ...]:
    platform, workspace, channel, thread, bot, persona, model = reply
    if persona is None or model is None:
        key = ConversationKey(str(platform), str(workspace), str(channel), str(thread))
        persona, model = persona_of(str(bot), key)
    return (
        click.reply_id, click.user_id, click.rating, to_timestamp(click.clicked_at),
        platform, workspace, channel, thread, bot, persona, model, now,
    )  # fmt: skip
