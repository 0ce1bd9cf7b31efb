"""The contract between platform adapters and the engine: what comes in, what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from core.config import BotConfig
from core.coordination import Coordination
from core.errors import ParleyError
from core.tools.calls import ToolCall

Role = Literal["system", "user", "assistant"]
# A prompt also carries tool results (role "tool") answering an assistant's tool calls.
PromptRole = Literal["system", "user", "assistant", "tool"]
MessageStatus = Literal["complete", "partial", "failed"]
Direction = Literal["input", "output"]

# What an adapter cancels a turn's task with when its user asked to stop that reply (Ctrl-C
# in the terminal): the row then says so. Any other cancellation is a shutdown.
STOPPED_BY_USER = "stopped by the user"


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
    """A file shared with a message.

    `data` is None until read: adapters give what the platform says of the file and `ref`,
    their own handle on it; core asks `PlatformLookups.download` for the bytes once the
    message is stored, with a size cap and a deadline. A file that could not be read is
    told to the model and the user as not read.
    """

    filename: str
    media_type: str
    size: int
    data: bytes | None = None
    ref: str = ""


@dataclass(frozen=True, slots=True)
class PriorMessage:
    """A message written before Parley joined a conversation (e.g. an existing thread)."""

    role: Role
    author: Author
    text: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Earlier:
    """A thread's earlier messages, newest first, and whether older ones were left out."""

    messages: tuple[PriorMessage, ...]
    more: bool = False


@dataclass(frozen=True, slots=True)
class Names:
    """Display names of who wrote a message and where, for prompts and the stored row."""

    author: str
    workspace: str
    channel: str


class PlatformLookups(Protocol):
    """What core may ask an adapter about one message, after the message is stored.

    Each call may be slow (it goes to the platform); core bounds it with a deadline and
    treats an error as "not known": the turn goes on without it.
    """

    async def names(self) -> Names: ...

    async def download(self, attachment: Attachment, max_bytes: int) -> bytes | None: ...

    async def earlier(self, limit: int) -> Earlier:
        """Up to `limit` messages before this one in its thread, newest first (with the
        thread's first message, if it fits); asked once, when Parley joins a thread late."""
        ...


CommandName = Literal["reset", "persona", "help"]


@dataclass(frozen=True, slots=True)
class Command:
    """Words addressed to Parley itself; `argument` is a persona name for `persona`."""

    name: CommandName
    argument: str | None = None
    whole_channel: bool = False


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message, translated by an adapter into the platform-neutral form.

    The adapter says what the platform says; core decides what to do with it (whether it is
    a first delivery, whether the conversation is Parley's, a command or a turn):
    - `delivery`: the platform's id for this message or interaction, the same on every
      redelivery; "" where nothing is ever redelivered (the console).
    - `addressed`: Parley was spoken to (a mention, a DM, a slash command); otherwise the
      message is answered only in a conversation Parley is already part of.
    - `allowed`: the adapter's access rules let this author talk here.
    - `admin`: the author is one of the bot's admins (commands, budgets).
    - `command`: a platform command (a slash command); plain text is parsed by core.
    - `joined_late`: the message is inside a thread begun without Parley; core asks
      `lookups.earlier` for what came before when it does not know the thread yet.
    - `reply_to`: the platform id of the message this one answers (Discord reply chains): a
      reply to one of Parley's own messages continues that conversation.
    """

    bot: str
    key: ConversationKey
    author: Author
    text: str
    message_id: str
    delivery: str = ""
    addressed: bool = True
    allowed: bool = True
    admin: bool = False
    from_bot: bool = False
    command: Command | None = None
    joined_late: bool = False
    reply_to: str = ""
    attachments: tuple[Attachment, ...] = ()
    workspace_name: str = ""
    channel_name: str = ""
    # The channel the author was looking at when writing, where the platform says (Slack's
    # agent view: a DM with the app beside a channel); the prompt's {viewing_channel}.
    viewing_channel: str = ""
    prior: tuple[PriorMessage, ...] = ()
    lookups: PlatformLookups | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ImagePart:
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One entry of the Chat Completions `messages` list, before it is put on the wire."""

    role: PromptRole
    content: str
    images: tuple[ImagePart, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message that asked for tools
    tool_call_id: str = ""  # a "tool" message: the call it answers


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TurnSummary:
    """What the adapter may want to tell the user after a reply has streamed in full.

    `reply_id` is the store's id for the reply: feedback buttons under it carry it back.
    """

    reply_id: int | None = None
    dropped_messages: int = 0  # loaded from history but left out to fit the budget
    older_omitted: bool = False  # the thread is longer than the history limit looks back
    input_truncated: bool = False
    unread_attachments: tuple[str, ...] = ()
    usage: Usage | None = None


ToolState = Literal["running", "waiting", "ok", "failed", "denied"]


@dataclass(frozen=True, slots=True)
class ToolStep:
    """One tool call as the thread shows it, told again each time its state changes.

    `running` when it starts, `waiting` while Approve / Deny buttons wait, then one of
    `ok`, `failed` or `denied` with the seconds it took and a short `note` (why it failed,
    who denied it). Steps are shown inside the streamed reply, as one compact line each;
    they are not the reply's text and are not in `ReplySink.shown`.
    """

    call_id: str
    name: str  # "server.tool"
    state: ToolState
    seconds: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A tool call waiting for a person: the adapter posts it with Approve / Deny buttons
    that carry `id` back (`Conversations.approve`).

    `asked_by` is the user whose message started the turn: they (or the bot's admins) may
    decide. `arguments` is the call's arguments, already cut short for display.
    """

    id: str
    tool: str
    arguments: str
    asked_by: Author
    expires_at: datetime


ApprovalDecision = Literal["approved", "denied", "expired", "cancelled"]


@dataclass(frozen=True, slots=True)
class ApprovalSettled:
    """How an approval request ended, for the adapter to show on its message: approved or
    denied by `by` (a display name), expired unanswered, or cancelled (the turn ended)."""

    request: ApprovalRequest
    decision: ApprovalDecision
    by: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalClick:
    """A click on Approve or Deny, as an adapter translates it; `admin` is the adapter's
    word that the clicker is one of the bot's admins. `platform`, `workspace` and `channel`
    say where it happened: a click elsewhere than the request's thread is refused."""

    bot: str
    platform: str
    workspace: str
    channel: str
    approval_id: str
    user_id: str
    user_name: str
    approve: bool
    admin: bool = False


# "approved"/"denied": this click decided it (the adapter acks quietly: the message is
# updated through the sink). The others are refusals the adapter tells the clicker alone:
# "not_allowed" (not the asker nor an admin), "decided" (already decided: a doubled or late
# click), "expired", "unknown" (no such request here).
ApprovalResult = Literal["approved", "denied", "not_allowed", "decided", "expired", "unknown"]


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

    async def step(self, step: ToolStep) -> None:
        """Shows a tool call's state in the reply (a new line, or its line updated)."""
        ...

    async def ask_approval(self, request: ApprovalRequest) -> None:
        """Posts the request with Approve / Deny buttons in the reply's thread."""
        ...

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        """Updates the request's message with the decision and who made it; no buttons."""
        ...

    async def say(self, text: str) -> None:
        """One short message in the reply's place instead of a streamed reply (a command's
        answer, a refusal); neutral text the adapter styles for its platform."""
        ...

    @property
    def shown(self) -> str:
        """The reply's text as the platform shows it now; text that never got there is not
        history the user knows of, and is not stored as shown."""
        ...


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
    tools: str = ""  # a reply's tool exchange as JSON (core/tools/exchange.py); "" for none


@dataclass(frozen=True, slots=True)
class ModerationFlag:
    """Moderation stopped a turn: the user's message (`input`) or the reply (`output`)."""

    direction: Direction
    categories: tuple[str, ...]


Handling = Literal["turn", "command", "refused", "ignored", "duplicate"]


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """What `Engine.handle` returns, for callers and tests; the sink has already been told.

    `handled_as` says what core made of the message: a turn, a command, a refusal, not
    Parley's to answer, or a redelivery of one already answered. `admin_notice` is set
    when moderation stopped the turn: the adapter posts it where its admins read.
    """

    status: MessageStatus
    reply: str
    summary: TurnSummary = field(default_factory=TurnSummary)
    error: ParleyError | None = None
    flagged: ModerationFlag | None = None  # set when moderation stopped the turn
    handled_as: Handling = "turn"
    admin_notice: str = ""


Rating = Literal["up", "down"]
# "stale": an older click than the one stored; "failed": the store could not take it.
FeedbackResult = Literal["stored", "changed", "unchanged", "stale", "unknown", "failed"]


@dataclass(frozen=True, slots=True)
class FeedbackClick:
    """A 👍 or 👎 on one of Parley's replies, as an adapter translates the click.

    `reply_id` comes from the button (TurnSummary.reply_id); `platform`, `workspace` and
    `channel` say where the click happened, and core takes it only for a reply stored there,
    so a forged id cannot rate a reply elsewhere. `clicked_at` is the platform's time of the
    click: a redelivered older click never undoes a newer one.
    """

    bot: str
    platform: str
    workspace: str
    channel: str
    reply_id: int
    user_id: str
    rating: Rating
    clicked_at: datetime


class Conversations(Protocol):
    """The engine as adapters hold it: one entry point for every message, and what an
    adapter needs to run at all."""

    async def handle(self, message: IncomingMessage, reply: ReplySink) -> TurnOutcome: ...

    def bot(self, name: str) -> BotConfig:
        """The named bot's settings in force now (a reload changes them)."""
        ...

    def persona_names(self) -> list[str]: ...

    @property
    def coordination(self) -> Coordination:
        """Roles and one-at-a-time jobs shared with the other replicas (a Discord shard,
        the command sync)."""
        ...

    async def link(self, message: IncomingMessage, posted: list[str]) -> None:
        """Ties messages Parley posted in answer to `message` to its conversation: a reply
        to one of them continues it."""
        ...

    async def seen(self, scope: str, value: str) -> bool:
        """Whether a marker was recorded (e.g. a command set already synced)."""
        ...

    async def record(self, scope: str, value: str) -> None: ...

    async def approve(self, click: ApprovalClick) -> ApprovalResult:
        """Decides a waiting approval request once; never raises for bad input."""
        ...

    async def feedback(self, click: FeedbackClick) -> FeedbackResult:
        """Stores a click once per user and reply (a changed mind replaces it); "unknown"
        for a reply Parley has not stored there. Never raises for bad input."""
        ...
