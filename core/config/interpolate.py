"""Substitutes ${VAR} references from the environment and turns secret fields into SecretRefs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass

from core.config.paths import LineMap, Loc, format_path
from core.config.secrets import LITERAL_SECRET_MESSAGE, SECRET_REFERENCE, SecretRef, SecretUse
from core.config.storage_url import LITERAL_PASSWORD_MESSAGE, literal_password
from core.errors import ConfigIssue

# `$${` stays a literal `${`; a bare `${` that is not a whole reference is reported.
_REFERENCE = re.compile(
    r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{"
)


@dataclass(frozen=True)
class Interpolated:
    data: dict[str, object]
    secrets: tuple[SecretUse, ...]
    issues: tuple[ConfigIssue, ...]


def is_secret_loc(loc: Loc, bot_keys: Set[str]) -> bool:
    """Whether the value at `loc` is a secret field: a provider's api_key, or one of
    `bot_keys` in a bot (its platform's tokens)."""
    if len(loc) != 3:
        return False
    section, _, key = loc
    return (section == "providers" and key == "api_key") or (
        section == "bots" and isinstance(key, str) and key in bot_keys
    )


def interpolate(
    data: dict[str, object],
    env: Mapping[str, str],
    lines: LineMap,
    file: str,
    secret_bot_keys: Set[str],
) -> Interpolated:
    """Resolve every string value against `env`; secret fields become SecretRefs."""
    walker = _Walker(env, lines, file, secret_bot_keys)
    resolved = {key: walker.walk(value, (key,)) for key, value in data.items()}
    return Interpolated(resolved, tuple(walker.secrets), tuple(walker.issues))


class _Walker:
    def __init__(
        self, env: Mapping[str, str], lines: LineMap, file: str, secret_bot_keys: Set[str]
    ) -> None:
        self._env = env
        self._secret_bot_keys = secret_bot_keys
        self._lines = lines
        self._file = file
        self.secrets: list[SecretUse] = []
        self.issues: list[ConfigIssue] = []

    def walk(self, value: object, loc: Loc) -> object:
        if is_secret_loc(loc, self._secret_bot_keys):
            return self._secret(value, loc)
        if loc == ("storage", "url") and isinstance(value, str) and literal_password(value):
            self._issue(loc, LITERAL_PASSWORD_MESSAGE)
        if isinstance(value, dict):
            return {key: self.walk(item, (*loc, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, (*loc, index)) for index, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return self._substitute(value, loc)
        return value

    def _secret(self, value: object, loc: Loc) -> SecretRef:
        path, line = format_path(loc), self._lines.line_of(loc)
        match = SECRET_REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.issues.append(ConfigIssue(self._file, line, path, LITERAL_SECRET_MESSAGE))
            # A stand-in keeps validation from also reporting the field as missing.
            return SecretRef("", path, line, self._file)
        ref = SecretRef.from_env(match.group(1), path, line, self._file, self._env)
        self.secrets.append(SecretUse(path, ref.variable, ref.is_set, line))
        return ref

    def _substitute(self, text: str, loc: Loc) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            if match.group(0) == "$${":
                return "${"
            if name is None:
                self._issue(loc, "a '${' that is not a ${VAR} or ${VAR:-default} reference")
            elif self._env.get(name):
                return self._env[name]
            elif default is not None:
                return default
            else:
                self._issue(
                    loc,
                    f"environment variable {name} is not set and has no default "
                    f"(set it, or write ${{{name}:-value}})",
                )
            return match.group(0)

        return _REFERENCE.sub(replace, text)

    def _issue(self, loc: Loc, message: str) -> None:
        line = self._lines.line_of(loc)
        self.issues.append(ConfigIssue(self._file, line, format_path(loc), message))
