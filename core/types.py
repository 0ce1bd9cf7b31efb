"""The contract between platform adapters and the engine: what comes in, what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from core.errors import ParleyError

Role = Literal["system", "user", "assistant"]
MessageStatus = Literal["complete", "partial", "failed"]
Direction = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Names one conversation on any platform; two keys are the same conversation iff equal.

    `workspace` is a Slack team id, a Discord guild id (or "dm"), or "local" for the console.
    `thread` is a Slack thread ts, a Discord thread or reply-chain root, or a console thread name.
    """

    platform: str
    workspace: str
    channel: str
    thread: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}/{self.channel}/{self.thread}"


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file shared with a message, already downloaded by the adapter.

    `data` is None when the adapter did not download it (too large, no permission);
    the engine then tells the model and the user that it was not read.
    """

    filename: str
    media_type: str
    size: int
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class PriorMessage:
    """A message written before Parley joined a conversation (e.g. an existing thread)."""

    role: Role
    author: Author
    text: str
    message_id: str


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One user message, translated by an adapter into the platform-neutral form.

    `prior` seeds a conversation Parley has never seen with what was said before it joined;
    it is ignored for a conversation the engine already holds. `admin` is the adapter's
    word that the author is one of the bot's admins (budgets may exempt them).
    """

    bot: str
    key: ConversationKey
    author: Author
    text: str
    message_id: str
    attachments: tuple[Attachment, ...] = ()
    workspace_name: str = ""
    channel_name: str = ""
    prior: tuple[PriorMessage, ...] = ()
    admin: bool = False


@dataclass(frozen=True, slots=True)
class ImagePart:
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One entry of the Chat Completions `messages` list, before it is put on the wire."""

    role: Role
    content: str
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TurnSummary:
    """What the adapter may want to tell the user after a reply has streamed in full."""

    dropped_messages: int = 0  # loaded from history but left out to fit the budget
    older_omitted: bool = False  # the thread is longer than the history limit looks back
    input_truncated: bool = False
    unread_attachments: tuple[str, ...] = ()
    usage: Usage | None = None


class ReplySink(Protocol):
    """Where the engine streams one reply; each adapter renders it for its platform.

    The engine calls `start` once, `append` zero or more times, then exactly one of
    `finish` or `fail`. `fail` may come after some `append`s (a stream cut mid-way):
    the adapter should keep what was shown and add the short notice.
    """

    async def start(self) -> None: ...

    async def append(self, text: str) -> None: ...

    async def finish(self, summary: TurnSummary) -> None: ...

    async def fail(self, error: ParleyError) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    role: Role
    author_id: str
    author_name: str
    content: str
    status: MessageStatus
    token_count: int
    created_at: datetime
    platform_message_id: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class ModerationFlag:
    """Moderation stopped a turn: the user's message (`input`) or the reply (`output`)."""

    direction: Direction
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """What `Engine.handle` returns, for callers and tests; the sink has already been told."""

    status: MessageStatus
    reply: str
    summary: TurnSummary = field(default_factory=TurnSummary)
    error: ParleyError | None = None
    flagged: ModerationFlag | None = None  # set when moderation stopped the turn
