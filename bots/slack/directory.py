"""Display names for users, channels and the workspace, looked up once and cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Names change rarely; an hour keeps a renamed person right within the day.
TTL_SECONDS = 3600.0
MAX_ENTRIES = 10_000


class Directory:
    """users.info, conversations.info and team.info, each asked once per id per hour.

    A lookup that fails falls back to the id: a missing scope must not stop a reply. Messages
    that arrive together and ask for the same name share one call: a burst of mentions in one
    workspace used to ask Slack for the same user and channel hundreds of times.
    """

    def __init__(self, client: AsyncWebClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._asking: dict[tuple[str, str], asyncio.Future[str]] = {}

    async def user_name(self, user_id: str) -> str:
        return await self._cached("user", user_id, lambda: self._user(user_id))

    async def channel_name(self, channel_id: str) -> str:
        return await self._cached("channel", channel_id, lambda: self._channel(channel_id))

    async def team_name(self, team_id: str) -> str:
        return await self._cached("team", team_id, lambda: self._team(team_id))

    def known(self, kind: str, key: str) -> str | None:
        """A name already looked up, without asking Slack (kind: user, channel, team)."""
        hit = self._cache.get((kind, key))
        return hit[1] if hit is not None and self._clock() - hit[0] < TTL_SECONDS else None

    async def _cached(self, kind: str, key: str, fetch: Callable[[], Awaitable[str]]) -> str:
        hit = self._cache.get((kind, key))
        if hit is not None and self._clock() - hit[0] < TTL_SECONDS:
            return hit[1]
        asking = self._asking.get((kind, key))
        if asking is None:
            asking = asyncio.ensure_future(self._ask(kind, key, fetch, hit))
            self._asking[(kind, key)] = asking
            asking.add_done_callback(lambda _: self._asking.pop((kind, key), None))
        # Shielded: one caller cancelled (its turn stopped) must not fail the others' lookup.
        return await asyncio.shield(asking)

    async def _ask(
        self,
        kind: str,
        key: str,
        fetch: Callable[[], Awaitable[str]],
        hit: tuple[float, str] | None,
    ) -> str:
        now = self._clock()
        try:
            name = await fetch() or key
        except SlackApiError as error:
            log.warning("could not look up %s %s: %s", kind, key, error.response.get("error"))
            return hit[1] if hit is not None else key
        if len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()
        self._cache[(kind, key)] = (now, name)
        return name

    async def _user(self, user_id: str) -> str:
        user: dict[str, Any] = (await self._client.users_info(user=user_id))["user"]
        profile: dict[str, Any] = user.get("profile") or {}
        # What Slack shows: the display name if set, else the full name, else the handle.
        return str(
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )

    async def _channel(self, channel_id: str) -> str:
        channel: dict[str, Any] = (await self._client.conversations_info(channel=channel_id))[
            "channel"
        ]
        if channel.get("is_im"):
            return "a direct message"
        return f"#{channel.get('name') or channel_id}"

    async def _team(self, team_id: str) -> str:
        team: dict[str, Any] = (await self._client.team_info(team=team_id))["team"]
        return str(team.get("name") or team_id)
