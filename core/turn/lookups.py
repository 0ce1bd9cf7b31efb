"""What a stored message still needs from its platform: names and shared files, each
bounded by a deadline and a size cap so a slow platform cannot hold up the thread."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from core.config import LimitsConfig
from core.errors import ParleyError
from core.types import Attachment, IncomingMessage, Names, PlatformLookups

log = logging.getLogger("core.engine")

# Names come from the platform's directory, cached by the adapter after the first look.
NAMES_SECONDS = 5.0


async def completed(message: IncomingMessage, limits: LimitsConfig) -> IncomingMessage:
    """The message with its names looked up and its files read (those that could be)."""
    lookups = message.lookups
    if lookups is None:
        return message
    names, attachments = await asyncio.gather(
        _names(lookups, message),
        asyncio.gather(*(_download(lookups, a, limits, message) for a in message.attachments)),
    )
    return replace(
        message,
        author=replace(message.author, display_name=names.author),
        workspace_name=names.workspace,
        channel_name=names.channel,
        attachments=tuple(attachments),
    )


async def _names(lookups: PlatformLookups, message: IncomingMessage) -> Names:
    known = Names(message.author.display_name, message.workspace_name, message.channel_name)
    try:
        async with asyncio.timeout(NAMES_SECONDS):
            return await lookups.names()
    except (ParleyError, TimeoutError) as error:
        log.warning("turn %s: names not looked up: %s", message.key, error or "timed out")
        return known


async def _download(
    lookups: PlatformLookups, attachment: Attachment, limits: LimitsConfig, message: IncomingMessage
) -> Attachment:
    if attachment.data is not None or attachment.size > limits.file_bytes:
        return attachment
    try:
        async with asyncio.timeout(limits.download_seconds):
            data = await lookups.download(attachment, limits.file_bytes)
    except (ParleyError, TimeoutError) as error:
        reason = error or f"no answer within {limits.download_seconds:g}s"
        log.warning("turn %s: %s not read: %s", message.key, attachment.filename, reason)
        return attachment
    if data is not None and len(data) > limits.file_bytes:
        return attachment  # the platform said it was smaller than it is
    return replace(attachment, data=data)
