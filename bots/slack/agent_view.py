"""Slack's agent messaging experience around the conversation: the prompts offered when a user
opens the app's Messages tab, and the channel each user is looking at beside it."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.config import SlackBotConfig
from bots.slack.directory import Directory

log = logging.getLogger(__name__)

CHANNEL_ENTITY = "slack#/types/channel_id"
REMEMBERED = 4096  # users whose viewed channel is kept, and DMs already given their prompts


class AgentView:
    """What Slack tells an agent app outside messages; everything here is best effort."""

    def __init__(self, client: AsyncWebClient, directory: Directory) -> None:
        self._client = client
        self._directory = directory
        self._viewing: OrderedDict[tuple[str, str], str] = OrderedDict()  # (team, user) -> name
        self._prompted: OrderedDict[str, None] = OrderedDict()

    async def on_messages_tab(self, bot: SlackBotConfig, event: dict[str, Any]) -> None:
        """app_home_opened: in the agent view, opening the Messages tab opens the DM with the
        app; the suggested prompts go atop it, once per DM while Parley runs."""
        channel = event.get("channel")
        if event.get("tab") != "messages" or not bot.suggested_prompts or not channel:
            return
        if channel in self._prompted:
            return
        # Remembered before the call: each opening is handled in a task of its own, and a
        # flood of them must not spend Slack's rate limit on the same prompts again.
        _remember(self._prompted, str(channel), None)
        try:
            # No thread_ts: in the agent view Slack ignores prompts set on a thread.
            await self._client.assistant_threads_setSuggestedPrompts(
                channel_id=str(channel),
                prompts=[{"title": p.title, "message": p.message} for p in bot.suggested_prompts],
            )
        except (SlackApiError, aiohttp.ClientError) as error:
            log.warning("could not offer suggested prompts: %s", error)
            self._prompted.pop(str(channel), None)  # the next opening tries again

    async def on_context_changed(self, team_id: str, user: str, channel: str) -> None:
        """The user now looks at `channel` (or at nothing a channel: ""), beside the app."""
        if not user:
            return
        name = await self._directory.channel_name(channel) if channel else ""
        _remember(self._viewing, (team_id, user), name)

    def viewing(self, team_id: str, user: str) -> str:
        """The name of the channel this user last looked at beside the app, if Slack said."""
        return self._viewing.get((team_id, user), "")


def viewed_channel(event: dict[str, Any], body: dict[str, Any]) -> tuple[str, str]:
    """(user, channel id) from app_context_changed (agent view) or, for apps still on the
    assistant pane, assistant_thread_context_changed; the channel is "" when the user looks
    at something else (a canvas, a list)."""
    thread = event.get("assistant_thread")
    if isinstance(thread, dict):
        context = thread.get("context") or {}
        return str(thread.get("user_id") or ""), str(context.get("channel_id") or "")
    context = event.get("context") if isinstance(event.get("context"), dict) else {}
    entities = context.get("entities") if isinstance(context, dict) else None
    channel = ""
    for entity in entities if isinstance(entities, list) else []:
        # Ordered by relevance: the first channel is the one in view.
        if isinstance(entity, dict) and entity.get("type") == CHANNEL_ENTITY:
            channel = str(entity.get("value") or "")
            break
    return str(event.get("user") or _authorized_person(body)), channel


def _authorized_person(body: dict[str, Any]) -> str:
    """The person an event is for, when the event itself does not name them (Slack's own
    example of app_context_changed names them only in `authorizations`)."""
    authorizations = body.get("authorizations")
    first = authorizations[0] if isinstance(authorizations, list) and authorizations else None
    if isinstance(first, dict) and not first.get("is_bot"):
        return str(first.get("user_id") or "")
    return ""


def _remember(entries: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    entries[key] = value
    entries.move_to_end(key)
    if len(entries) > REMEMBERED:
        entries.popitem(last=False)
