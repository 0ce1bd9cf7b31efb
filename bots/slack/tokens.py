"""Slack's token kinds by prefix, and the check that each config key holds its own kind."""

from __future__ import annotations

from pydantic_core import PydanticCustomError

from core.config import SecretRef

# What a Slack token's prefix says it is; rotating tokens put "xoxe." before it.
_TOKEN_KINDS = {
    "xoxb-": "a bot token (xoxb-)",
    "xapp-": "an app-level token (xapp-)",
    "xoxp-": "a user token (xoxp-)",
    "xoxe-": "a refresh token (xoxe-)",
    "xoxc-": "a browser session token (xoxc-)",
    "xoxd-": "a browser cookie (xoxd-)",
    "xoxs-": "a session token (xoxs-)",
    "xoxa-": "a workspace app token (xoxa-)",
}
# Each token key: the prefix it takes, the other key's prefix, and where to find the token.
_WANTED = {
    "bot_token": (
        "xoxb-",
        "xapp-",
        "bot_token takes the Bot User OAuth Token (xoxb-...; OAuth & Permissions page)",
    ),
    "app_token": (
        "xapp-",
        "xoxb-",
        "app_token takes an app-level token (xapp-...; Basic Information > App-Level Tokens, "
        "scope connections:write)",
    ),
}


def _prefix(value: str) -> str:
    return value.strip().removeprefix("xoxe.")[:5]


def token_kind(value: str) -> str | None:
    """ "a bot token (xoxb-)", or None for a value that is no Slack token."""
    return _TOKEN_KINDS.get(_prefix(value))


def check_token(key: str, ref: SecretRef) -> SecretRef:
    """A token whose variable is set must be of the kind `key` takes: a swapped pair
    (xapp- as bot_token) or a user token fails here, at the key's line, not at connect.

    An unset variable is left alone: `parley check` lists it, and it may be set where Parley
    runs. Only the prefix is ever quoted, never the token.
    """
    if not ref.is_set:
        return ref
    wanted, other_prefix, where_it_comes_from = _WANTED[key]
    value = ref.reveal()
    prefix = _prefix(value)
    if prefix == wanted and value == value.strip():
        return ref
    kind = _TOKEN_KINDS.get(prefix)
    if prefix == wanted:
        found = "has spaces or a line break around the token (pasted with them?)"
    elif prefix == other_prefix:
        found = f"is {kind}, so bot_token and app_token look swapped"
    else:
        found = f"is {kind}" if kind else "does not look like a Slack token"
    raise PydanticCustomError("slack_token", f"${{{ref.variable}}} {found}; {where_it_comes_from}")
