"""Makes platform text safe to store and send: lone UTF-16 surrogates become U+FFFD."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from core.types import Author, IncomingMessage, PriorMessage

# JSON may carry "\ud83d" alone; Python decodes it, but UTF-8 (SQLite, HTTP bodies) cannot
# encode it, so one such character would otherwise fail the whole turn.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    """`text` with every lone surrogate replaced by the replacement character."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def scrub_message(message: IncomingMessage) -> IncomingMessage:
    """The message with every text field scrubbed; unchanged (the same object) when clean."""
    fields = [message.text, message.author.display_name, message.workspace_name]
    fields += [message.channel_name, message.viewing_channel]
    if not any(_LONE_SURROGATE.search(field) for field in fields):
        return message
    return replace(
        message,
        text=scrub(message.text),
        author=_author(message.author),
        workspace_name=scrub(message.workspace_name),
        channel_name=scrub(message.channel_name),
        viewing_channel=scrub(message.viewing_channel),
    )


def scrub_prior(messages: Sequence[PriorMessage]) -> list[PriorMessage]:
    return [replace(p, text=scrub(p.text), author=_author(p.author)) for p in messages]


def _author(author: Author) -> Author:
    return replace(author, display_name=scrub(author.display_name))
