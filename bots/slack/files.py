"""Downloads files shared in Slack, with the bot's token and a size cap, as neutral attachments."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

from core.types import Attachment

log = logging.getLogger(__name__)


async def download_files(
    files: Sequence[dict[str, Any]], *, session: aiohttp.ClientSession, token: str, cap: int
) -> tuple[Attachment, ...]:
    """Each file becomes an Attachment; one too big or unreachable has no data, so the
    engine tells the user it was not read instead of the turn failing."""
    return tuple([await _download(file, session, token, cap) for file in files])


async def _download(
    file: dict[str, Any], session: aiohttp.ClientSession, token: str, cap: int
) -> Attachment:
    name = str(file.get("name") or file.get("title") or file.get("id") or "file")
    media_type = str(file.get("mimetype") or "application/octet-stream")
    size = int(file.get("size") or 0)
    url = file.get("url_private_download") or file.get("url_private")
    if not url or size > cap:
        return Attachment(name, media_type, size)
    try:
        # Slack's file URLs need the bot token; without it they answer with a login page.
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(str(url), headers=headers, allow_redirects=False) as response:
            if response.status != 200:
                log.warning(
                    "could not download %s: HTTP %d (is files:read granted?)", name, response.status
                )
                return Attachment(name, media_type, size)
            data = await response.content.read(cap + 1)
    except aiohttp.ClientError as error:
        log.warning("could not download %s: %s", name, error)
        return Attachment(name, media_type, size)
    if len(data) > cap:
        return Attachment(name, media_type, len(data))
    return Attachment(name, media_type, len(data), data)
