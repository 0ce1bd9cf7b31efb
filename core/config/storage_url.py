"""`storage.url`: a PostgreSQL URL whose password, if any, comes from the environment."""

from __future__ import annotations

import re
from typing import Final

# postgresql://user:PASSWORD@host… — the part between the first ':' after the scheme's
# '//' and the last '@' before the host.
_PASSWORD: Final = re.compile(r"^[a-z]+://[^:/@]*:(?P<password>[^@]*)@")
_REFERENCE_ONLY: Final = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
SCHEMES: Final = ("postgresql://", "postgres://")

LITERAL_PASSWORD_MESSAGE: Final = (
    "the database password must come from the environment: write "
    "postgresql://USER:${PGPASSWORD}@HOST/DB and set PGPASSWORD"
)


def literal_password(raw_url: str) -> bool:
    """Whether the URL as written in bots.yaml carries a password that is not ${VAR}."""
    match = _PASSWORD.match(raw_url)
    if match is None:
        return False
    password = match.group("password")
    return bool(password) and _REFERENCE_ONLY.fullmatch(password) is None


def shown(url: str) -> str:
    """The URL as logs, errors and `parley check` may show it: without its password."""
    match = _PASSWORD.match(url)
    if match is None:
        return url
    start, end = match.span("password")
    return url[: start - 1] + url[end:]
