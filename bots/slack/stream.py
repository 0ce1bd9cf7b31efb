"""Slack's native streaming binding: chat.startStream, appendStream and stopStream, going on
by chat.update on the same message wherever a stream cannot."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.reply import DeliveryError, Refusal
from bots.reply.binding import Show
from bots.slack.errors import error_code
from bots.slack.feedback import feedback_block
from bots.slack.mentions import without_pings
from bots.slack.reply import (
    PLACEHOLDER_DELAY_SECONDS,
    POST_ERRORS,
    POST_RETRY_DELAYS_SECONDS,
    SlackReplyBinding,
    answer_lost,
)
from bots.throttle import ChannelThrottle
from core.types import ApprovalRequest, ApprovalSettled

log = logging.getLogger(__name__)

# markdown_text takes 12,000 characters a call; a longer reply goes on in a new stream.
# The split counts the model's text, Slack the text shown: each bare "@here" is shown one
# character longer (without_pings), so a message grows by at most 1/6 (of "@here " and the
# like); 10,000 leaves room for that, and a reply that falls back to one whole chat.update.
STREAM_LIMIT = 10_000
# Slack will not stream here (a channel type, a workspace, a plan without the feature): the
# reply goes on by chat.postMessage and chat.update, and so do later ones in this channel.
REFUSED = frozenset(
    {
        "method_not_supported_for_channel_type",
        "channel_type_not_supported",
        "not_allowed",
        "unknown_method",
        "feature_not_enabled",
    }
)
# The stream takes no more text (Slack ends one after about five minutes).
ENDED = frozenset({"message_not_in_streaming_state"})
# chat.appendStream is Tier 4: 100 and more a minute per workspace, a budget of its own.
WORKSPACE_APPENDS = 100
WORKSPACE_WINDOW_SECONDS = 60.0
THINKING = "is thinking…"


def workspace_append_budget() -> ChannelThrottle:
    """One per Slack app, keyed by team id, as the chat.update budget is."""
    return ChannelThrottle(WORKSPACE_APPENDS, WORKSPACE_WINDOW_SECONDS)


@dataclass
class _Stream:
    """One message Slack streams: what it shows so far, pings written out as Slack got it."""

    sent: str
    open: bool = True


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom a channel stream is for: Slack requires both ids outside a DM."""

    user_id: str
    team_id: str


class SlackStreamBinding:
    """One reply in one thread, each of its messages a native stream. What the stream cannot
    carry goes through `edits` (the chat.update binding) on the same message: a stream
    Slack ended, a method it refused, a lost answer, a text that is not the old one grown
    (the split moved a cut, a mention was completed and written out)."""

    def __init__(
        self,
        edits: SlackReplyBinding,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        recipient: Recipient,
        refused: set[str],
        budget: ChannelThrottle,
        status: bool = True,
        answering: str | None = None,  # the message answered (default: the thread's root)
    ) -> None:
        self._edits = edits
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        # A stream of this reply is newer than the message it answers: a lost start is
        # never taken for an earlier reply in the thread that shows the same words.
        self._answering = answering or thread_ts
        self._recipient = recipient
        self._refused = refused  # the bot's channels where Slack refused streams
        self._streams: dict[str, _Stream] = {}
        self.limit = STREAM_LIMIT
        self.style = edits.style
        self.feedback = edits.feedback
        # A stream is only ever added to: a step's line shows once the step has ended, and
        # the thread's status says what runs meanwhile (a line changed in place would end
        # the stream and leave the rest of the reply to chat.update).
        self.live_steps = False
        # Streamed text is only ever added to, so a placeholder could not give way to the
        # answer: a slow model shows Slack's own "is thinking…" status instead.
        waiting = self._status_later if status else None
        self.pacing = replace(edits.pacing, budget=budget, waiting=waiting)

    async def post(
        self, text: str, *, first: bool, final: bool = False, rated: int | None = None
    ) -> str:
        if final or self._channel in self._refused:
            # Whole already: one chat.postMessage is one call, a stream two.
            return await self._edits.post(text, first=first, final=final, rated=rated)
        await self._stop_earlier()
        sent = _streamable(text)
        try:
            ts = await self._start(sent)
        except SlackApiError as error:
            if error_code(error) not in REFUSED:
                raise
            self._refused.add(self._channel)
            why = error_code(error)
            log.info("slack refused a stream in %s (%s); replies there edit", self._channel, why)
            return await self._edits.post(text, first=first, final=final, rated=rated)
        self._streams[ts] = _Stream(sent)
        return ts

    async def _start(self, sent: str) -> str:
        """chat.startStream, tried again only once Slack shows no such stream: a lost
        answer may hide one it started (the client never retries this call itself)."""
        for delay in (*POST_RETRY_DELAYS_SECONDS, None):
            try:
                response = await self._client.chat_startStream(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    markdown_text=sent,
                    recipient_user_id=self._recipient.user_id,
                    recipient_team_id=self._recipient.team_id,
                )
                return str(response["ts"])
            except POST_ERRORS as error:
                if not answer_lost(error) or delay is None:
                    raise
            await asyncio.sleep(delay)
            found = await self._edits.find_streamed(
                sent, known=self._streams, after=self._answering
            )
            if found is not None:
                return found
        raise AssertionError("unreachable: the last try raises")

    async def edit(self, message: str, text: str, *, rated: int | None = None) -> None:
        stream = self._streams.get(message)
        if stream is None or not stream.open:
            await self._edits.edit(message, text, rated=rated)
        else:
            await self._grow(message, stream, text, stop=False, blocks=[])

    async def close(
        self, message: str, text: str, *, changed: bool, last: bool, rated: int | None = None
    ) -> None:
        stream = self._streams.get(message)
        if stream is None or not stream.open:
            await self._edits.close(message, text, changed=changed, last=last, rated=rated)
            return
        # The feedback buttons come with the stop, with the reply's last words.
        blocks = [] if rated is None else [feedback_block(rated)]
        await self._grow(message, stream, text, stop=True, blocks=blocks)

    async def posted(self, message: str) -> None:
        await self._edits.posted(message)

    async def progress(self, text: str) -> None:
        await self._client.assistant_threads_setStatus(
            channel_id=self._channel, thread_ts=self._thread_ts, status=text
        )

    async def post_approval(self, request: ApprovalRequest) -> str:
        return await self._edits.post_approval(request)

    async def settle_approval(self, message: str, settled: ApprovalSettled, decision: str) -> None:
        await self._edits.settle_approval(message, settled, decision)

    def refusal(self, error: Exception) -> Refusal | None:
        return self._edits.refusal(error)

    def undelivered(
        self, detail: str, *, transient: bool, user_message: str | None = None
    ) -> DeliveryError:
        return self._edits.undelivered(detail, transient=transient, user_message=user_message)

    async def _grow(
        self, ts: str, stream: _Stream, text: str, *, stop: bool, blocks: list[dict[str, Any]]
    ) -> None:
        """Appends what `text` adds to the stream (and ends it, if `stop`); anything else
        replaces the message's text by chat.update."""
        sent = _streamable(text)
        if not sent.startswith(stream.sent):
            await self._replace(ts, stream, text, blocks)
            return
        added = sent[len(stream.sent) :]
        try:
            if stop:
                await self._client.chat_stopStream(
                    channel=self._channel, ts=ts, markdown_text=added or None, blocks=blocks or None
                )
                stream.open = False
            elif added:
                await self._client.chat_appendStream(
                    channel=self._channel, ts=ts, markdown_text=added
                )
        except Exception as error:
            if not _goes_on_by_update(error):
                raise
            # Slack ended or refused the stream, or its answer was lost and the words may or
            # may not be there: the whole text, once, by chat.update.
            log.info("slack stream %s ended (%s); chat.update goes on", ts, _why(error))
            # A stream Slack refused or ended takes no stop; one whose answer was lost is
            # stopped, in case it still streams.
            stream.open = stream.open and answer_lost(error)
            if isinstance(error, SlackApiError) and error_code(error) in REFUSED:
                # As for a refused start: later replies in this channel edit from the first.
                self._refused.add(self._channel)
            await self._replace(ts, stream, text, blocks)
            return
        stream.sent = sent

    async def _replace(
        self, ts: str, stream: _Stream, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        if stream.open:
            stream.open = False
            await self._stop_quietly(ts)
        await self._edits.update(ts, text, blocks=blocks)
        stream.sent = without_pings(text)

    async def _stop_earlier(self) -> None:
        """A new message begins: the ones before it are whole, and their streams end."""
        for ts, stream in self._streams.items():
            if stream.open:
                stream.open = False
                await self._stop_quietly(ts)

    async def _stop_quietly(self, ts: str) -> None:
        """Ends a stream whose text is complete; one Slack ended already is fine."""
        try:
            await self._client.chat_stopStream(channel=self._channel, ts=ts)
        except Exception as error:
            if not _goes_on_by_update(error):
                raise
            log.debug("slack stream %s: no stop: %s", ts, _why(error))

    async def _status_later(self, show: Show) -> None:
        await asyncio.sleep(PLACEHOLDER_DELAY_SECONDS)
        await self._client.assistant_threads_setStatus(
            channel_id=self._channel, thread_ts=self._thread_ts, status=THINKING
        )


def _streamable(text: str) -> str:
    """What a stream may show of `text` now: mentions written out, without the blanks at
    either end (trailing ones wait until words follow them). They show nothing, and the
    reply's final text is stripped: a stream that had them would end by chat.update."""
    return without_pings(text).strip()


def _goes_on_by_update(error: Exception) -> bool:
    if isinstance(error, SlackApiError):
        return error_code(error) in ENDED | REFUSED or answer_lost(error)
    return answer_lost(error)


def _why(error: Exception) -> str:
    return error_code(error) if isinstance(error, SlackApiError) else type(error).__name__
