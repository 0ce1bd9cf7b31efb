"""Discord's binding for the shared streaming reply: a message or an interaction response."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bots.discord.approval_view import ApprovalButtons, request_content, settled_content
from bots.discord.buttons import FeedbackButtons
from bots.reply import DeliveryError, Pacing, Refusal
from bots.reply.binding import Show
from bots.throttle import ChannelThrottle
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled

MESSAGE_LIMIT = 2000  # Discord's hard limit for message content
TYPING_REFRESH_SECONDS = 8.0  # a typing indicator lasts about ten seconds
# "Parley is typing…" only once the model has been silent this long: a fast first word
# needs no indicator, and under load every skipped call is CPU for someone else's reply.
TYPING_AFTER_SECONDS = 0.8
# Between a reply's streaming edits. Discord allows 5 edits per 5 s per channel (a thread
# is one); one a second still reads as streaming, keeps the bucket free for the final
# edit, and halves the calls of a fast stream.
STREAM_EDIT_SECONDS = 1.0
# discord.py retries a 500, 502 or 504 for 25 s but gives up on a 503 at once; the last
# edit of a reply is the one that must land, so it is tried again briefly on any 5xx.
FINAL_RETRY_DELAYS_SECONDS = (0.5, 1.5)

# Every message Parley sends notifies nobody: a model that writes "@everyone", "<@id>" or
# "<@&role>" must not ping a server. Set on the client (its default for every send and
# edit) and passed on each send too, so a send that sets other mention options (a reply's
# mention_author) cannot merge the client default back open.
NO_PINGS = discord.AllowedMentions.none()

# Posts a part with a nonce: discord.py sends it with enforce_nonce, so Discord answers a
# repeated send (within minutes) with the message it made the first time. The view, when
# given, is the feedback buttons under a finished reply's last part.
Post = Callable[[str, int, discord.ui.View | None], Awaitable[discord.Message]]


class DiscordDeliveryError(DeliveryError):
    user_message = "I couldn't post my reply here; an admin should check Parley's log."


class DiscordStyle:
    def notes(self, notes: list[str]) -> str:
        return "\n".join(f"-# {note}" for note in notes)

    def notice(self, error: ParleyError) -> str:
        return f"⚠️ {error.user_message}"

    @property
    def empty(self) -> str:
        return "*(no answer)*"


class DiscordReplyBinding:
    """Posts the first part where `first` says and continues long answers with `more`,
    spending the channel's shared edit budget on edits."""

    def __init__(
        self,
        *,
        channel_id: int,
        first: Post,
        more: Post,
        typing: Callable[[], Awaitable[None]] | None,
        throttle: ChannelThrottle,
        on_posted: Callable[[discord.Message], Awaitable[None]] | None = None,
        feedback: bool = False,
    ) -> None:
        self._channel_id = channel_id
        self._first = first
        self._more = more
        self._on_posted = on_posted
        # One nonce per part, kept until that part is posted: discord.py picks a fresh one per
        # send, so the reply's own retry after a lost answer (a 503, a dropped connection)
        # would otherwise post the part twice.
        self._nonce = secrets.randbits(63)
        self.limit = MESSAGE_LIMIT
        self.style = DiscordStyle()
        self.feedback = feedback
        self.live_steps = True  # an edit changes a step's line in place
        self.pacing = Pacing(
            budget=throttle,
            budget_key=channel_id,
            reserve=1,
            edit_interval=STREAM_EDIT_SECONDS,
            waiting=_keep_typing(typing) if typing is not None else None,
            final_retry_delays=FINAL_RETRY_DELAYS_SECONDS,
        )

    async def post(
        self, text: str, *, first: bool, final: bool = False, rated: int | None = None
    ) -> discord.Message:
        buttons = None if rated is None else FeedbackButtons(rated)
        message = await (self._first if first else self._more)(text, self._nonce, buttons)
        self._nonce = secrets.randbits(63)
        return message

    async def edit(self, message: discord.Message, text: str, *, rated: int | None = None) -> None:
        if rated is None:
            await message.edit(content=text, allowed_mentions=NO_PINGS)
        else:
            await message.edit(content=text, allowed_mentions=NO_PINGS, view=FeedbackButtons(rated))

    async def close(
        self,
        message: discord.Message,
        text: str,
        *,
        changed: bool,
        last: bool,
        rated: int | None = None,
    ) -> None:
        if changed or rated is not None:  # Discord only edits: the last sync is its last edit
            await self.edit(message, text, rated=rated)

    async def posted(self, message: discord.Message) -> None:
        if self._on_posted is not None:
            await self._on_posted(message)

    async def progress(self, text: str) -> None:
        pass  # the step lines say it, in place

    async def post_approval(self, request: ApprovalRequest) -> discord.Message:
        # Where the reply goes on (its thread, or its channel), with a nonce of its own.
        return await self._more(
            request_content(request), secrets.randbits(63), ApprovalButtons(request)
        )

    async def settle_approval(
        self, message: discord.Message, settled: ApprovalSettled, decision: str
    ) -> None:
        content = settled_content(settled, decision)
        await message.edit(content=content, allowed_mentions=NO_PINGS, view=None)

    def refusal(self, error: Exception) -> Refusal | None:
        if not isinstance(error, discord.HTTPException):
            return None
        return Refusal(
            explain(error, self._channel_id),
            transient=isinstance(error, discord.DiscordServerError),
        )

    def undelivered(
        self, detail: str, *, transient: bool, user_message: str | None = None
    ) -> DeliveryError:
        return DiscordDeliveryError(detail, transient=transient, user_message=user_message)


def view_given(view: discord.ui.View | None) -> dict[str, Any]:
    """`view=` only when there is one: discord.py's webhook sends take no None for it."""
    return {} if view is None else {"view": view}


def _keep_typing(typing: Callable[[], Awaitable[None]]) -> Callable[[Show], Awaitable[None]]:
    async def waiting(show: Show) -> None:
        # Cancelled by the reply once its first words show (Discord clears it then too).
        await asyncio.sleep(TYPING_AFTER_SECONDS)
        while True:
            await typing()
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    return waiting


def explain(error: discord.HTTPException, channel_id: int) -> str:
    """One log line an admin can act on."""
    if isinstance(error, discord.Forbidden) and error.code == 50013:
        return (
            f"discord: missing permissions in channel {channel_id}: grant the bot "
            "View Channel, Send Messages, Send Messages in Threads, Create Public Threads "
            "and Read Message History there"
        )
    return f"discord: {error.status} {error.text or error} in channel {channel_id}"
