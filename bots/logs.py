"""Where `parley` logs: one stderr handler, as text lines or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "parley"
# The model SDK's HTTP client logs every request at info, full URL included: a line per call
# that says nothing our turn line does not, and a leak if a URL ever carried a secret.
# The MCP SDK logs each HTTP session's id and stream reconnections at info: ours are the
# tool lines of core.tools (a server down, back).
_QUIET_AT_INFO = ("httpx", "httpx2", "httpcore", "httpcore2", "mcp")
# Library warnings on every start that nobody can act on, dropped by exact text (copied so
# that logging set-up imports neither SDK; tests/cli/test_run_logs.py keeps them equal):
# slack_bolt says the token it was given is unused (Parley hands it a client that carries
# the token, and an authorize function answering from the start-up auth.test; bolt reads
# SLACK_BOT_TOKEN from the environment all the same); discord.py says voice is not supported
# without its optional libraries, and Parley has no voice; the MCP SDK, see below.
_UNACTIONABLE = frozenset(
    {
        ("slack_bolt.AsyncApp", "As you gave `client` as well, `token` will be unused."),
        (
            "slack_bolt.AsyncApp",
            "As `installation_store` or `authorize` has been used, "
            "`token` (or SLACK_BOT_TOKEN env variable) will be ignored.",
        ),
        ("discord.client", "PyNaCl is not installed, voice will NOT be supported"),
        ("discord.client", "davey is not installed, voice will NOT be supported"),
        # The MCP SDK, ending an HTTP session the server had already forgotten (after its
        # restart), which is why Parley ends it and starts a new one.
        ("mcp.client.streamable_http", "Session termination failed: 404"),
    }
)
# Libraries whose warnings carry a traceback of an error Parley reports itself, in a line
# of its own: asyncpg's pool, failing to reconnect while PostgreSQL restarts, would print
# one every few seconds. Their line keeps the error's name and text.
_ONE_LINE_ERRORS = ("asyncpg.pool",)
# What every LogRecord carries; anything else on a record came in through `extra=`.
_STANDARD_FIELDS = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime"]
)


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then the record's `extra=` fields as they are."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD_FIELDS)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def actionable(record: logging.LogRecord) -> bool:
    """False for a library's line that says nothing an admin can act on; a traceback some
    libraries attach is folded into their line."""
    if record.exc_info and record.name in _ONE_LINE_ERRORS:
        error = record.exc_info[1]
        record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
        record.args, record.exc_info, record.exc_text = None, None, None
    return (record.name, record.getMessage()) not in _UNACTIONABLE


def configure_logging(level: str, fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Replace Parley's handler on the root logger (handlers others added stay)."""
    unconfigure_logging()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(actionable)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET_AT_INFO:
        # At debug they speak again, for whoever is chasing a connection problem.
        quiet = logging.WARNING if root.level > logging.DEBUG else logging.NOTSET
        logging.getLogger(name).setLevel(quiet)


def unconfigure_logging() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
        handler.close()
