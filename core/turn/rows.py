"""What the engine writes to the store for a turn, with token counts of exactly what replays."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.attachments import RenderedInput
from core.context import user_turn
from core.store import NewMessage
from core.types import IncomingMessage, PriorMessage

TokenCounter = Callable[[str], int]

# The error of a reply whose process was killed mid-turn, set when Parley next starts.
INTERRUPTED = "interrupted: Parley stopped before the reply was finished"
# The error of a reply cut by a shutdown; both start "interrupted", which a redelivery of
# the message reads as "never answered" when nothing was shown.
SHUT_DOWN = "interrupted by shutdown"


def never_answered(status: str, content: str, error: str, tools: str = "") -> bool:
    """A reply row that a stopped process left with nothing shown and no tool called:
    answer its message. A turn that called a tool is not run again: that would run it
    again (its row keeps what the call did, for the next turns to read)."""
    return status != "complete" and not content and not tools and error.startswith("interrupted")


def user_row(message: IncomingMessage, rendered: RenderedInput, count: TokenCounter) -> NewMessage:
    # Counted as history_turn will replay it: with the author's name in front.
    replayed = user_turn(message.author.display_name, rendered.stored_text)
    return NewMessage(
        role="user",
        author_id=message.author.id,
        author_name=message.author.display_name,
        content=rendered.stored_text,
        status="complete",
        token_count=count(replayed),
        platform_message_id=message.message_id,
    )


def prior_rows(earlier: Sequence[PriorMessage], count: TokenCounter) -> list[NewMessage]:
    """Rows for messages written before Parley joined, oldest first."""
    rows = []
    for prior in earlier:
        name = prior.author.display_name
        replayed = user_turn(name, prior.text) if prior.role == "user" else prior.text
        rows.append(
            NewMessage(
                role=prior.role,
                author_id=prior.author.id,
                author_name=name,
                content=prior.text,
                status="complete",
                token_count=count(replayed),
                platform_message_id=prior.message_id,
            )
        )
    return rows


def reply_placeholder(bot_name: str) -> NewMessage:
    # Marked partial until it completes, so a crash mid-stream leaves an honest row.
    return NewMessage("assistant", bot_name, bot_name, "", "partial", 0)
