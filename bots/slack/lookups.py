"""What core may ask Slack about one message once it is stored: names, files, the thread."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.directory import Directory
from core.errors import ParleyError
from core.types import Attachment, Author, Earlier, Names, PriorMessage, Role

# conversations.replies pages oldest first; the newest messages are on the last page, so a
# long thread is read through. 200 is Slack's recommended page; past this many pages
# (a 4,000-message thread) only the root and what was read are used.
PAGE_SIZE = 200
MAX_PAGES = 20


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: str  # the bot user, as in <@U…> mentions
    bot_id: str  # what Slack puts on the bot's own messages


class SlackLookupError(ParleyError):
    """Slack or the network did not answer a lookup; core goes on without it."""


def without_mention(text: str, bot_user_id: str) -> str:
    return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>[:,]?\s*", "", text).strip()


def attachments_of(event: dict[str, Any]) -> tuple[Attachment, ...]:
    """What Slack says of each shared file; the bytes are read later, on core's request."""
    files = event.get("files")
    if not isinstance(files, list):
        return ()  # a malformed field loses the files, never the message
    found = []
    for file in files:
        if not isinstance(file, dict):
            continue  # a malformed entry is skipped, never the whole message
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        media_type = str(file.get("mimetype") or "application/octet-stream")
        size = file.get("size")
        url = file.get("url_private_download") or file.get("url_private") or ""
        found.append(Attachment(name, media_type, size if isinstance(size, int) else 0, None, url))
    return tuple(found)


class SlackLookups:
    """One message's lookups; errors become SlackLookupError at this edge."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        directory: Directory,
        files: aiohttp.ClientSession,
        token: str,
        event: dict[str, Any],
        team_id: str,
        me: BotIdentity,
    ) -> None:
        self._client = client
        self._directory = directory
        self._files = files
        self._token = token
        self._event = event
        self._team_id = team_id
        self._me = me

    async def names(self) -> Names:
        author = str(self._event.get("user") or self._event.get("bot_id") or "")
        try:
            user, team, channel = await asyncio.gather(
                self._directory.user_name(author),
                self._directory.team_name(self._team_id),
                self._directory.channel_name(str(self._event["channel"])),
            )
        except (aiohttp.ClientError, OSError) as error:
            raise SlackLookupError(f"Slack did not answer: {error}") from error
        return Names(user, team, channel)

    async def download(self, attachment: Attachment, max_bytes: int) -> bytes | None:
        if not attachment.ref:
            return None
        # Slack's file URLs need the bot token; without it they answer with a login page.
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._files.get(
                attachment.ref, headers=headers, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise SlackLookupError(f"HTTP {response.status} (is files:read granted?)")
                data = await response.content.read(max_bytes + 1)
        except (aiohttp.ClientError, OSError) as error:
            raise SlackLookupError(str(error) or type(error).__name__) from error
        return data if len(data) <= max_bytes else None

    async def earlier(self, limit: int) -> Earlier:
        """The thread's root and its newest replies before this message."""
        channel, thread = str(self._event["channel"]), str(self._event["thread_ts"])
        before = [
            m for m in await self._thread(channel, thread) if m.get("ts") != self._event["ts"]
        ]
        if not before:
            return Earlier(())
        root, replies = before[0], before[1:]
        kept = replies[-(limit - 1) :] if limit > 1 else []
        newest_first = [*reversed(kept), root] if limit else []
        prior = [await self._prior(m) for m in newest_first]
        return Earlier(tuple(prior), more=len(before) > len(newest_first))

    async def _thread(self, channel: str, thread: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            for _ in range(MAX_PAGES):
                page = await self._client.conversations_replies(
                    channel=channel, ts=thread, limit=PAGE_SIZE, cursor=cursor
                )
                found += [m for m in page.get("messages") or [] if isinstance(m, dict)]
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    break
        except SlackApiError as error:
            raise SlackLookupError(f"Slack refused: {error.response.get('error')}") from error
        except (aiohttp.ClientError, OSError) as error:
            raise SlackLookupError(f"Slack did not answer: {error}") from error
        # Later pages repeat the root on some workspaces; keep each message once, in order.
        seen: dict[str, dict[str, Any]] = {}
        for message in found:
            seen.setdefault(str(message.get("ts")), message)
        return list(seen.values())

    async def _prior(self, message: dict[str, Any]) -> PriorMessage:
        me = self._me
        mine = message.get("user") == me.user_id or message.get("bot_id") == me.bot_id
        author = str(message.get("user") or message.get("bot_id") or "")
        name = me.user_id if mine else await self._directory.user_name(author)
        text = without_mention(str(message.get("text", "")), me.user_id)
        role: Role = "assistant" if mine else "user"
        return PriorMessage(role, Author(author, name), text, str(message.get("ts")))
