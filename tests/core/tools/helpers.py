"""What the tool server tests share: the tools they call, a closed port, warnings read."""

from __future__ import annotations

import logging
import socket

import pytest

from core.tools.calls import ToolSpec

SEARCH = ToolSpec("docs.search", "docs", "search", "")
SLOW = ToolSpec("docs.slow", "docs", "slow", "")


def closed_port() -> int:
    """A port nothing listens on: bound, read, released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def warnings_about(caplog: pytest.LogCaptureFixture, server: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "core.tools" and r.levelno == logging.WARNING and server in r.getMessage()
    ]
