"""References to secrets held in environment variables; their values never appear in a repr."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from core.errors import ConfigError, ConfigIssue

# A secret field must be exactly one reference with no default: a default would be a literal.
SECRET_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LITERAL_SECRET_MESSAGE = "secrets must come from the environment: write ${SOME_VAR} and set it"


@dataclass(frozen=True, repr=False)
class SecretRef:
    """Names the environment variable that holds a secret, and where the config asked for it."""

    variable: str
    path: str
    line: int | None = None
    file: str = ""
    _value: str | None = field(default=None, compare=False)

    @classmethod
    def from_env(
        cls, variable: str, path: str, line: int | None, file: str, env: Mapping[str, str]
    ) -> SecretRef:
        return cls(variable, path, line, file, env.get(variable) or None)

    @property
    def is_set(self) -> bool:
        return bool(self._value)

    def reveal(self) -> str:
        """The secret itself; raises ConfigError naming the variable if it is not set."""
        if not self._value:
            message = f"environment variable {self.variable} is not set (needed by {self.path})"
            raise ConfigError([ConfigIssue(self.file, self.line, self.path, message)])
        return self._value

    def __repr__(self) -> str:
        return f"SecretRef({self.variable}, {'set' if self.is_set else 'not set'})"

    __str__ = __repr__

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Only the loader makes SecretRefs; a plain string reaching the model is a literal secret.
        return core_schema.is_instance_schema(cls)


@dataclass(frozen=True)
class SecretUse:
    """One secret the config refers to, for `parley check` to list."""

    path: str
    variable: str
    is_set: bool
    line: int | None = None
