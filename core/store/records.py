"""The values the store hands back and takes in, and their conversion to and from rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from core.errors import StoreError
from core.types import ConversationKey, MessageStatus, Rating, Role, StoredMessage

_ROLES: frozenset[str] = frozenset(get_args(Role))
_STATUSES: frozenset[str] = frozenset(get_args(MessageStatus))


@dataclass(frozen=True, slots=True)
class History:
    """The tail of one conversation."""

    messages: tuple[StoredMessage, ...]  # oldest first
    more_before: bool  # older messages exist beyond the limit


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store, for writing many in one transaction (seeding a thread)."""

    role: Role
    author_id: str
    author_name: str
    content: str
    status: MessageStatus
    token_count: int
    platform_message_id: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Usage summed per day, place, bot, persona, model and user."""

    day: str
    platform: str
    workspace: str
    channel: str
    bot: str
    persona: str
    model: str
    user_id: str
    turns: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """The tokens one model call spent, for whom and in which conversation."""

    key: ConversationKey
    bot: str
    persona: str
    model: str
    user_id: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    message_id: int | None = None  # the assistant message this turn produced


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_timestamp(moment: datetime) -> str:
    """Fixed-width ISO-8601 in UTC, so comparing the text compares the times."""
    if moment.tzinfo is None:
        raise ValueError("store timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def key_params(key: ConversationKey) -> tuple[str, str, str, str]:
    return (key.platform, key.workspace, key.channel, key.thread)


def usage_params(record: UsageRecord, created_at: datetime) -> tuple[Any, ...]:
    return (
        to_timestamp(created_at),
        *key_params(record.key),
        record.bot,
        record.persona,
        record.model,
        record.user_id,
        record.prompt_tokens,
        record.completion_tokens,
        record.cached_tokens,
        record.message_id,
    )


def message_from_row(row: Sequence[Any]) -> StoredMessage:
    """Build a StoredMessage from a row in RECENT_MESSAGES_SQL's column order."""
    (id_, role, author_id, author_name, content, status, tokens, created, platform_id, error) = row[
        :10
    ]
    tools = str(row[10]) if len(row) > 10 else ""
    # The CHECK constraints make these unreachable unless the file was edited by hand.
    if role not in _ROLES or status not in _STATUSES:
        raise StoreError(f"message {id_} has an unknown role {role!r} or status {status!r}")
    return StoredMessage(
        id=int(id_),
        role=role,
        author_id=str(author_id),
        author_name=str(author_name),
        content=str(content),
        status=status,
        token_count=int(tokens),
        created_at=from_timestamp(str(created)),
        platform_message_id=str(platform_id),
        error=str(error),
        tools=tools,
    )


def stored_messages(
    ids: Sequence[int], messages: Sequence[NewMessage], now: str
) -> list[StoredMessage]:
    """What the store now holds for `messages`, written at `now` with these ids."""
    at = from_timestamp(now)
    return [
        StoredMessage(
            id=message_id,
            role=m.role,
            author_id=m.author_id,
            author_name=m.author_name,
            content=m.content,
            status=m.status,
            token_count=m.token_count,
            created_at=at,
            platform_message_id=m.platform_message_id,
            error=m.error,
        )
        for message_id, m in zip(ids, messages, strict=True)
    ]


def usage_row_from(row: Sequence[Any]) -> UsageRow:
    """Build a UsageRow from a row in USAGE_ROWS_SQL's column order."""
    day, platform, workspace, channel, bot, persona, model, user, turns, prompt, out, cached = row
    return UsageRow(
        str(day), str(platform), str(workspace), str(channel), str(bot), str(persona),
        str(model), str(user), int(turns), int(prompt or 0), int(out or 0), int(cached or 0),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """One user's rating of one reply, as `parley export` shows it."""

    message_id: int
    user_id: str
    rating: Rating
    clicked_at: datetime


@dataclass(frozen=True, slots=True)
class ExportedMessage:
    """A stored message and, for a reply, the tokens its model call reported and the
    ratings people gave it."""

    message: StoredMessage
    prompt_tokens: int | None
    completion_tokens: int | None
    feedback: tuple[FeedbackEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    key: ConversationKey
    messages: int
    last_activity: datetime


def exported_from_row(row: Sequence[Any]) -> ExportedMessage:
    """Build an ExportedMessage from a row in EXPORT_MESSAGES_SQL's column order."""
    prompt, completion = row[10], row[11]
    return ExportedMessage(
        message_from_row(row[:10]),
        None if prompt is None else int(prompt),
        None if completion is None else int(completion),
    )


def summary_from_row(row: Sequence[Any]) -> ConversationSummary:
    platform, workspace, channel, thread, messages, last = row
    key = ConversationKey(str(platform), str(workspace), str(channel), str(thread))
    return ConversationSummary(key, int(messages), from_timestamp(str(last)))
