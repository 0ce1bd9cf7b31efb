"""A click on a tool approval's Approve or Deny on Slack: translated, decided, answered."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.reply.tool_text import refusal_text
from bots.slack.approvals import APPROVE_ACTION, BLOCK_PREFIX
from bots.slack.directory import Directory
from core.types import ApprovalClick, Conversations

log = logging.getLogger(__name__)

CLICKS_REMEMBERED = 1024


class ClicksSeen:
    """Socket Mode delivers an envelope again when its ack is lost: the same click (same
    user, request and action_ts) is decided once and not told "Already decided" after it.
    A person's second click has a new action_ts and gets its note."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def first_time(self, click: ApprovalClick, action: dict[str, Any]) -> bool:
        seen = (click.approval_id, click.user_id, str(action.get("action_ts") or ""))
        if seen in self._seen:
            log.info("slack: a redelivered approval click was ignored")
            return False
        self._seen[seen] = None
        if len(self._seen) > CLICKS_REMEMBERED:
            self._seen.popitem(last=False)
        return True


class ApprovalAnswer:
    """One click, after bolt acknowledged it: core decides; a decision needs nothing more
    here (the turn updates the request's message), a refusal is told to the clicker alone."""

    def __init__(
        self, client: AsyncWebClient, directory: Directory, asker: str, body: dict[str, Any]
    ) -> None:
        self._client = client
        self._directory = directory
        self._asker = asker
        self._thread_ts = (body.get("container") or {}).get("thread_ts")

    async def decide(self, engine: Conversations, click: ApprovalClick) -> None:
        try:
            # "Approved by Ann" shows the name people see, not the handle in the payload.
            click = replace(click, user_name=await self._directory.user_name(click.user_id))
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.debug("slack: no name for approver %s: %s", click.user_id, error)
        result = await engine.approve(click)
        note = refusal_text(result, f"<@{self._asker}>" if self._asker else "")
        if note is not None:
            await self._client.chat_postEphemeral(
                channel=click.channel, user=click.user_id, thread_ts=self._thread_ts, text=note
            )


def click_of(
    body: dict[str, Any], action: dict[str, Any], bot: str, admins: Collection[str]
) -> ApprovalClick | None:
    """The click a block_actions payload carries; None (logged) for one Parley did not make."""
    request_id = str(action.get("value") or "")
    user = body.get("user") or {}
    user_id = str(user.get("id") or "")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    if not (request_id and user_id and channel and team):
        log.warning("slack: an approval click Parley cannot read was ignored")
        return None
    return ApprovalClick(
        bot=bot,
        platform="slack",
        workspace=str(team),
        channel=str(channel),
        approval_id=request_id,
        user_id=user_id,
        user_name=str(user.get("name") or user.get("username") or user_id),
        approve=action.get("action_id") == APPROVE_ACTION,
        admin=user_id in admins,
    )


def asker_of(action: dict[str, Any]) -> str:
    """The asker's user id from the clicked block, for the refusal's words ("" if absent)."""
    block = str(action.get("block_id") or "")
    return block.removeprefix(BLOCK_PREFIX) if block.startswith(BLOCK_PREFIX) else ""
