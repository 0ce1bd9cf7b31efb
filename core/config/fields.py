"""Building blocks shared by the config models: the frozen base, frozen maps, checked strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

K = TypeVar("K")
V = TypeVar("V")


class Frozen(BaseModel):
    """Every config model: immutable, and a key it does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _freeze(value: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(value))


def empty_map() -> Mapping[Any, Any]:
    return MappingProxyType({})


FrozenMap = Annotated[Mapping[K, V], AfterValidator(_freeze)]


def _pattern_check(kind: str, pattern: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(kind, message)
        return value

    return AfterValidator(check)


def _url_check(schemes: tuple[str, ...], label: str) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise PydanticCustomError(
                "url", "must be {label} URL, got '{value}'", {"label": label, "value": value}
            )
        return value

    return AfterValidator(check)


HttpUrl = Annotated[str, _url_check(("http", "https"), "an http(s)")]
GatewayUrl = Annotated[str, _url_check(("http", "https", "ws", "wss"), "an http(s) or ws(s)")]
BotName = Annotated[
    str,
    _pattern_check(
        "bot_name", r"[A-Za-z0-9_-]+", "a bot name may only use letters, digits, '_' and '-'"
    ),
]
SlackWorkspaceId = Annotated[
    str,
    _pattern_check(
        "slack_id", r"[TE][A-Z0-9]{2,}", "not a Slack workspace id (they look like T0123ABCD)"
    ),
]
SlackChannelId = Annotated[
    str,
    _pattern_check(
        "slack_id", r"[CDG][A-Z0-9]{2,}", "not a Slack channel id (they look like C0123ABCD)"
    ),
]
SlackUserId = Annotated[
    str,
    _pattern_check(
        "slack_id", r"[UW][A-Z0-9]{2,}", "not a Slack user id (they look like U0123ABCD)"
    ),
]


def _snowflake_text(value: object) -> object:
    # YAML reads an unquoted Discord id as an int; ids are text everywhere else.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


DiscordUserId = Annotated[
    str,
    BeforeValidator(_snowflake_text),
    _pattern_check("discord_id", r"[0-9]{15,21}", "not a Discord user id (15-21 digits)"),
]
DiscordRoleId = Annotated[
    str,
    BeforeValidator(_snowflake_text),
    _pattern_check("discord_id", r"[0-9]{15,21}", "not a Discord role id (15-21 digits)"),
]
DiscordGuildId = Annotated[
    str,
    BeforeValidator(_snowflake_text),
    _pattern_check("discord_id", r"[0-9]{15,21}", "not a Discord guild id (15-21 digits)"),
]
DiscordChannelId = Annotated[
    str,
    BeforeValidator(_snowflake_text),
    _pattern_check("discord_id", r"[0-9]{15,21}", "not a Discord channel id (15-21 digits)"),
]
