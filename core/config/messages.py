"""Turns pydantic's validation errors into ConfigIssues a person can act on."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.config.paths import LineMap, Loc, did_you_mean, format_path, join_or
from core.config.shapes import known_keys
from core.errors import ConfigIssue


def translate(
    error: ValidationError,
    root: type[Any],
    lines: LineMap,
    file: str,
    reported: Set[str] = frozenset(),
    *,
    platforms: Sequence[str],
) -> list[ConfigIssue]:
    """One issue per pydantic error, located by key path and line.

    Errors at paths in `reported` are dropped: a value already found wrong (say, an unset
    variable) only fails again as a knock-on. An unknown key is never a knock-on.
    `platforms` are the names a bot's `platform` may take, for the messages that list them.
    """
    details = error.errors(include_url=False)
    issues: list[ConfigIssue] = []
    for detail in details:
        loc, message, line_loc = _locate(detail, root, platforms)
        path = format_path(loc)
        if _is_knock_on(detail, details) or (
            path in reported and detail["type"] != "extra_forbidden"
        ):
            continue
        issues.append(ConfigIssue(file, lines.line_of(line_loc), path, message))
    return issues


def _is_knock_on(detail: ErrorDetails, details: list[ErrorDetails]) -> bool:
    # pydantic also reports a list as too short when its items failed; only the items matter.
    loc = detail["loc"]
    return detail["type"] == "too_short" and any(
        other["loc"][: len(loc)] == loc and len(other["loc"]) > len(loc) for other in details
    )


def _locate(
    detail: ErrorDetails, root: type[Any], platforms: Sequence[str]
) -> tuple[Loc, str, Loc]:
    """The path to report, the message, and the loc whose line to show."""
    raw: Loc = tuple(detail["loc"])
    loc = _clean(raw, platforms)
    kind = detail["type"]
    if kind == "missing":
        return loc, f"missing required key '{loc[-1]}'", loc[:-1]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return loc, f"unknown key '{key}'{did_you_mean(key, known_keys(root, raw[:-1]))}", loc
    if kind == "union_tag_invalid":
        tag = str(detail.get("ctx", {}).get("tag", ""))
        message = (
            f"unknown platform '{tag}'{did_you_mean(tag, platforms)}; expected {join_or(platforms)}"
        )
        return (*loc, "platform"), message, (*loc, "platform")
    if kind == "union_tag_not_found":
        return (*loc, "platform"), f"missing required key 'platform' ({join_or(platforms)})", loc
    return loc, describe(detail), loc


def _clean(raw: Loc, platforms: Sequence[str]) -> Loc:
    """Drop pydantic's bookkeeping from a loc: discriminator tags and dict-key markers."""
    loc = [part for part in raw if part != "[key]"]
    if len(loc) >= 3 and loc[0] == "bots" and isinstance(loc[1], int) and loc[2] in platforms:
        del loc[2]
    return tuple(loc)


def describe(detail: ErrorDetails) -> str:
    """pydantic's message for one error, reworded without its jargon."""
    phrase = _PHRASES.get(detail["type"])
    return phrase(detail) if phrase else detail["msg"]


def shown(value: object) -> str:
    """A value as the message should quote it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _expected(what: str) -> Callable[[ErrorDetails], str]:
    return lambda detail: f"expected {what}, got {shown(detail['input'])}"


def _bound(words: str, key: str) -> Callable[[ErrorDetails], str]:
    return lambda detail: f"must be {words} {shown(detail.get('ctx', {}).get(key))}"


def _one_of(detail: ErrorDetails) -> str:
    options = re.findall(r"'([^']*)'", str(detail.get("ctx", {}).get("expected", "")))
    given = detail["input"]
    hint = did_you_mean(given, options) if isinstance(given, str) else ""
    return f"expected {join_or(options)}, got {shown(given)}{hint}"


def _too_short(detail: ErrorDetails) -> str:
    least = detail.get("ctx", {}).get("min_length", 1)
    return f"needs at least {least} {'entry' if least == 1 else 'entries'}"


def _too_long(detail: ErrorDetails) -> str:
    most = detail.get("ctx", {}).get("max_length", 1)
    return f"may have at most {most} {'entry' if most == 1 else 'entries'}"


_MAPPING = "a mapping (key: value lines)"
_PHRASES: dict[str, Callable[[ErrorDetails], str]] = {
    "float_parsing": _expected("a number"),
    "float_type": _expected("a number"),
    "int_parsing": _expected("a whole number"),
    "int_type": _expected("a whole number"),
    "int_from_float": _expected("a whole number"),
    "bool_parsing": _expected("true or false"),
    "bool_type": _expected("true or false"),
    "string_type": _expected("text"),
    "path_type": _expected("a file path"),
    "model_type": _expected(_MAPPING),
    "model_attributes_type": _expected(_MAPPING),
    "dict_type": _expected(_MAPPING),
    "mapping_type": _expected(_MAPPING),
    "tuple_type": _expected("a list"),
    "list_type": _expected("a list"),
    "greater_than_equal": _bound("at least", "ge"),
    "greater_than": _bound("more than", "gt"),
    "less_than_equal": _bound("at most", "le"),
    "less_than": _bound("less than", "lt"),
    "string_too_short": lambda detail: "must not be empty",
    "too_short": _too_short,
    "too_long": _too_long,
    "literal_error": _one_of,
    "is_instance_of": lambda detail: "secrets must come from the environment: write ${SOME_VAR}",
}
