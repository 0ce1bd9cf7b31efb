"""A reply in Slack's assistant pane: "is thinking…" and the thread's title instead of a
placeholder message."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import ParleyError
from core.types import (
    ApprovalRequest,
    ApprovalSettled,
    ConversationKey,
    ReplySink,
    ToolStep,
    TurnSummary,
)

log = logging.getLogger(__name__)


class AssistantThreadReply:
    """Wraps the streamed reply; the status clears itself when the reply is posted."""

    def __init__(
        self, reply: ReplySink, client: AsyncWebClient, key: ConversationKey, *, title: str
    ) -> None:
        self._reply = reply
        self._client = client
        self._key = key
        self._title = title

    async def start(self) -> None:
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self._key.channel, thread_ts=self._key.thread, status="is thinking…"
            )
            if self._title:
                await self._client.assistant_threads_setTitle(
                    channel_id=self._key.channel, thread_ts=self._key.thread, title=self._title
                )
        except (SlackApiError, aiohttp.ClientError) as error:
            # An ordinary thread in a DM, not an assistant one: the reply shows soon anyway.
            log.debug("no assistant status in %s: %s", self._key, error)
        await self._reply.start()

    async def append(self, text: str) -> None:
        await self._reply.append(text)

    async def finish(self, summary: TurnSummary) -> None:
        await self._reply.finish(summary)

    async def fail(self, error: ParleyError) -> None:
        await self._reply.fail(error)

    async def say(self, text: str) -> None:
        await self._reply.say(text)

    async def step(self, step: ToolStep) -> None:
        await self._reply.step(step)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        await self._reply.ask_approval(request)

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        await self._reply.approval_settled(settled)

    @property
    def shown(self) -> str:
        return self._reply.shown
