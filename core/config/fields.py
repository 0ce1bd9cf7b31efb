"""Building blocks shared by the config models: the frozen base, frozen maps, checked strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict
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


def pattern_check(kind: str, pattern: str, message: str) -> AfterValidator:
    """A validator for text that must match `pattern` whole; `message` says what it should be.

    Adapters build their id formats from this, so each platform's formats live with it.
    """
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(kind, message)
        return value

    return AfterValidator(check)


# Query parameters that carry a credential: ?key=, ?api_key=, ?access_token=, ?sig=...
_SECRET_PARAMETER = re.compile(r"key|token|secret|pass|pwd|auth|sig|credential", re.IGNORECASE)


def url_check(schemes: tuple[str, ...], label: str) -> AfterValidator:
    """A validator for a URL with one of `schemes` and a host; `label` reads 'an http(s)'.

    A URL is printed by `parley check` and logged by HTTP clients, so a credential inside
    one (user:password@ or ?key=) is refused like any literal secret, and never echoed.
    """

    def check(value: str) -> str:
        parts = urlsplit(value)
        if _carries_credentials(value):
            raise PydanticCustomError(
                "url_credentials",
                "must not carry credentials (user:password@ or ?key=); secrets must come "
                "from the environment: put the key in api_key: ${SOME_VAR}",
            )
        if parts.scheme not in schemes or not parts.netloc:
            raise PydanticCustomError(
                "url", "must be {label} URL, got '{value}'", {"label": label, "value": value}
            )
        return value

    return AfterValidator(check)


def _carries_credentials(url: str) -> bool:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return True
    names = (pair.partition("=")[0] for pair in re.split(r"[&;]", parts.query) if pair)
    return any(_SECRET_PARAMETER.search(name) for name in names)


HttpUrl = Annotated[str, url_check(("http", "https"), "an http(s)")]
BotName = Annotated[
    str,
    pattern_check(
        "bot_name", r"[A-Za-z0-9_-]+", "a bot name may only use letters, digits, '_' and '-'"
    ),
]
