"""`storage.url`: a PostgreSQL URL whose password, if any, comes from the environment."""

from __future__ import annotations

import re
from typing import Final

# postgresql://user:PASSWORD@host… — the part between the first ':' after the scheme's
# '//' and the last '@' before the host.
_PASSWORD: Final = re.compile(r"^[a-z]+://[^:/@]*:(?P<password>[^@]*)@")
# libpq and asyncpg also take it as a query parameter: …/db?sslmode=require&password=PASSWORD
_QUERY_PASSWORD: Final = re.compile(r"(?P<before>[?&]password=)(?P<password>[^&#]*)")
_REFERENCE_ONLY: Final = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
SCHEMES: Final = ("postgresql://", "postgres://")

LITERAL_PASSWORD_MESSAGE: Final = (
    "the database password must come from the environment: write "
    "postgresql://USER:${PGPASSWORD}@HOST/DB and set PGPASSWORD"
)


def literal_password(raw_url: str) -> bool:
    """Whether the URL as written in bots.yaml carries a password that is not ${VAR}."""
    match = _PASSWORD.match(raw_url)
    passwords = [match.group("password")] if match is not None else []
    passwords += [found.group("password") for found in _QUERY_PASSWORD.finditer(raw_url)]
    return any(p and _REFERENCE_ONLY.fullmatch(p) is None for p in passwords)


def shown(url: str) -> str:
    """The URL as logs, errors and `parley check` may show it: without its password."""
    url = _QUERY_PASSWORD.sub(r"\g<before>…", url)
    match = _PASSWORD.match(url)
    if match is None:
        return url
    start, end = match.span("password")
    return url[: start - 1] + url[end:]
