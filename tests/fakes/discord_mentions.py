"""Who a message sent to the fake Discord would notify, as Discord decides it from the
content and the message's `allowed_mentions`."""

from __future__ import annotations

import re

from tests.fakes.discord_payloads import Payload
from tests.fakes.discord_state import FakeDiscordMessage

_USER = re.compile(r"<@!?(\d{15,21})>")
_ROLE = re.compile(r"<@&(\d{15,21})>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


def pings(message: FakeDiscordMessage, replied_author: str | None = None) -> set[str]:
    """What the message notifies: "everyone", "user:<id>", "role:<id>". Without
    `allowed_mentions` Discord parses every mention and pings a replied-to author;
    with it, only what it allows (the bot is assumed to hold Mention Everyone)."""
    allowed: Payload | None = message.allowed_mentions
    parse = set(allowed.get("parse") or []) if allowed is not None else None
    listed_users = {str(u) for u in (allowed or {}).get("users") or []}
    listed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
    found: set[str] = set()
    if _EVERYONE.search(message.content) and (parse is None or "everyone" in parse):
        found.add("everyone")
    for user in _USER.findall(message.content):
        if parse is None or "users" in parse or user in listed_users:
            found.add(f"user:{user}")
    for role in _ROLE.findall(message.content):
        if parse is None or "roles" in parse or role in listed_roles:
            found.add(f"role:{role}")
    if replied_author is not None and (allowed is None or allowed.get("replied_user")):
        found.add(f"user:{replied_author}")
    return found
