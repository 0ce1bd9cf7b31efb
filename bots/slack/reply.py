"""Slack's binding for the shared streaming reply: chat.postMessage, chat.update and their look."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.reply import DeliveryError, Pacing, Refusal
from bots.reply.binding import Show
from bots.slack.approvals import escaped, request_blocks, request_text, settled_blocks
from bots.slack.errors import SlackDeliveryError, explain
from bots.slack.feedback import feedback_block, reply_blocks
from bots.slack.mentions import without_pings
from bots.throttle import ChannelThrottle
from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled

# markdown_text takes 12,000 characters, but long Slack messages collapse behind
# "Show more"; under 4,000 each part of a long answer stays readable on its own.
MESSAGE_LIMIT = 3900
EDIT_INTERVAL_SECONDS = 1.0
# Shown only if the model has said nothing by then: a fast first token goes straight out,
# saving a call and keeping the post off the path to the model request.
PLACEHOLDER_DELAY_SECONDS = 0.8
PLACEHOLDER = "_Thinking…_"
# chat.update is Tier 3: about 50 a minute per workspace, for every reply streaming there.
WORKSPACE_EDITS = 50
WORKSPACE_WINDOW_SECONDS = 60.0
# Streaming edits leave this many to final edits, so the last words rarely wait.
FINAL_EDITS_RESERVE = 10
# A post whose answer was lost (a 5xx, a dropped connection) may have landed: before each
# new try Parley looks for it by its mark. The client never retries posts itself (bot.py).
POST_RETRY_DELAYS_SECONDS = (0.5, 1.5)
POST_MARK_EVENT = "parley_reply"
# How far back a lost post is looked for: it is among a thread's or a DM's newest messages.
LOOKUP_PAGES = 10


def workspace_edit_budget() -> ChannelThrottle:
    """One per Slack app, keyed by team id: the limit is the workspace's, never global."""
    return ChannelThrottle(WORKSPACE_EDITS, WORKSPACE_WINDOW_SECONDS)


class SlackStyle:
    def notes(self, notes: list[str]) -> str:
        return "\n".join(f"_({note})_" for note in notes)

    def notice(self, error: ParleyError) -> str:
        return f"_:warning: {error.user_message}_"

    @property
    def empty(self) -> str:
        return "_(no answer)_"


class SlackReplyBinding:
    """One reply in one thread (or a DM's top level); a posted message is known by its ts.

    Every post and edit passes through `without_pings`: a model's "<!channel>" or "<@U…>"
    shows as plain words, in streamed edits, split parts and final edits alike."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        team_id: str,
        channel: str,
        thread_ts: str | None,  # None: reply at the top level (a DM)
        bot_name: str,
        token_var: str,
        budget: ChannelThrottle,
        placeholder: bool = True,
        interval: float = EDIT_INTERVAL_SECONDS,
        feedback: bool = False,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._bot_name = bot_name
        self._token_var = token_var
        # Each post carries a mark in its metadata, kept until Slack confirms the post: after
        # a lost answer the mark tells whether it landed, whoever tries again.
        self._mark = uuid.uuid4().hex
        self._unsure = False
        self.limit = MESSAGE_LIMIT
        self.style = SlackStyle()
        self.feedback = feedback
        self.live_steps = True  # chat.update changes a step's line in place
        self.pacing = Pacing(
            budget=budget,
            budget_key=team_id,
            reserve=FINAL_EDITS_RESERVE,
            edit_interval=interval,
            waiting=_placeholder_later if placeholder else None,
        )

    async def post(
        self, text: str, *, first: bool, final: bool = False, rated: int | None = None
    ) -> str:
        if self._unsure:
            # An earlier call lost this post's answer (the reply may be trying it again).
            found = await self._find_post()
            if found is not None:
                return self._posted(found)
        for delay in (*POST_RETRY_DELAYS_SECONDS, None):
            try:
                response = await self._client.chat_postMessage(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    **shown_as(text, rated),
                    metadata={"event_type": POST_MARK_EVENT, "event_payload": {"post": self._mark}},
                )
                return self._posted(str(response["ts"]))
            except POST_ERRORS as error:
                if not answer_lost(error):
                    raise
                self._unsure = True
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            found = await self._find_post()
            if found is not None:
                return self._posted(found)
        raise AssertionError("unreachable: the last try raises")

    def _posted(self, ts: str) -> str:
        self._mark, self._unsure = uuid.uuid4().hex, False
        return ts

    async def _find_post(self) -> str | None:
        """The ts of the message posted with the current mark, if Slack has it. A failed
        look-up raises: posting again without knowing could show the words twice."""
        for message in await self._newest_messages():
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("post") == self._mark:
                return str(message["ts"])
        return None

    async def find_streamed(self, text: str, *, known: Collection[str], after: str) -> str | None:
        """The ts of a bot message in this thread, newer than `after`, showing `text` that
        this reply does not know: a stream Slack started though its answer was lost (a stream
        takes no mark)."""
        for message in reversed(await self._newest_messages()):
            ts = str(message.get("ts"))
            new = ts not in known and _ts_order(ts) > _ts_order(after)
            mine = bool(message.get("bot_id")) and new
            if mine and message.get("text") == text:
                return ts
        return None

    async def _newest_messages(self) -> list[dict[str, Any]]:
        if self._thread_ts is None:
            response = await self._client.conversations_history(
                channel=self._channel, limit=50, include_all_metadata=True
            )
            return list(response.get("messages") or [])
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            response = await self._client.conversations_replies(
                channel=self._channel,
                ts=self._thread_ts,
                limit=200,
                cursor=cursor,
                include_all_metadata=True,
            )
            messages.extend(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
        return messages

    async def edit(self, message: str, text: str, *, rated: int | None = None) -> None:
        await self.update(message, text, blocks=[] if rated is None else [feedback_block(rated)])

    async def close(
        self, message: str, text: str, *, changed: bool, last: bool, rated: int | None = None
    ) -> None:
        if changed or rated is not None:
            await self.edit(message, text, rated=rated)

    async def update(self, message: str, text: str, *, blocks: list[dict[str, Any]]) -> None:
        """chat.update to `text`; with `blocks` under it, the text becomes a markdown block
        (Slack takes markdown_text or blocks, not both) and `text` the notification's."""
        shown = without_pings(text)
        if not blocks:
            await self._client.chat_update(channel=self._channel, ts=message, markdown_text=shown)
            return
        above: dict[str, Any] = {"type": "markdown", "text": shown}
        await self._client.chat_update(
            channel=self._channel, ts=message, text=shown, blocks=[above, *blocks]
        )

    async def posted(self, message: str) -> None:
        pass  # a Slack thread is the conversation already: nothing to link

    async def progress(self, text: str) -> None:
        pass  # the step lines say it, in place

    async def post_approval(self, request: ApprovalRequest) -> str:
        response = await self._client.chat_postMessage(
            channel=self._channel,
            thread_ts=self._thread_ts,
            text=request_text(request),
            blocks=request_blocks(request),
        )
        return str(response["ts"])

    async def settle_approval(self, message: str, settled: ApprovalSettled, decision: str) -> None:
        await self._client.chat_update(
            channel=self._channel,
            ts=message,
            text=escaped(f"{decision}: {settled.request.tool}"),
            blocks=settled_blocks(settled, decision),
        )

    def refusal(self, error: Exception) -> Refusal | None:
        if not isinstance(error, SlackApiError):
            return None
        where = f"channel {self._channel}"
        line = explain(error, bot=self._bot_name, token_var=self._token_var, where=where)
        # Never worth another try here: Parley's Slack client has retried 429s and 5xx itself
        # (bots/slack/bot.py), a few seconds each, and the user has waited long enough.
        return Refusal(line, transient=False)

    def undelivered(
        self, detail: str, *, transient: bool, user_message: str | None = None
    ) -> DeliveryError:
        return SlackDeliveryError(detail, transient=transient, user_message=user_message)


def shown_as(text: str, rated: int | None) -> dict[str, Any]:
    """A message's content arguments: markdown_text, or for a finished reply's last message
    (`rated`: its stored id) the blocks that add the feedback buttons under the text."""
    markdown = without_pings(text)
    if rated is None:
        return {"markdown_text": markdown}
    return {"text": markdown, "blocks": reply_blocks(markdown, rated)}


# Transport failures after which a post may or may not have reached Slack.
ANSWER_LOST: tuple[type[Exception], ...] = (aiohttp.ClientConnectionError, asyncio.TimeoutError)
POST_ERRORS: tuple[type[Exception], ...] = (SlackApiError, *ANSWER_LOST)


def answer_lost(error: Exception) -> bool:
    """True when Slack may have carried out the call though Parley never saw its answer."""
    if isinstance(error, SlackApiError):
        return int(error.response.status_code) >= 500
    return isinstance(error, ANSWER_LOST)


def _ts_order(ts: str) -> tuple[int, int]:
    """A Slack ts ("1700000100.000200") as (seconds, microseconds), for ordering."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int(fraction.ljust(6, "0")[:6])


async def _placeholder_later(show: Show) -> None:
    await asyncio.sleep(PLACEHOLDER_DELAY_SECONDS)
    await show(PLACEHOLDER)
