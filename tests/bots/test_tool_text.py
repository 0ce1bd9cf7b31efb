"""The words every adapter shows for tool steps, approvals and refused clicks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bots.console_tools import LineQueue
from bots.reply.tool_text import duration_text, refusal_text, step_line
from core.types import ToolState, ToolStep


@pytest.mark.parametrize(
    ("state", "seconds", "note", "line"),
    [
        ("running", None, "", "⏳ `docs.search`…"),
        ("waiting", None, "", "✋ `docs.search` · waiting for approval"),
        ("ok", 0.42, "", "✅ `docs.search` · 0.4 s"),
        ("ok", 12.6, "result cut", "✅ `docs.search` · result cut · 13 s"),
        ("failed", 30.0, "timed out after 30 s", "❌ `docs.search` · timed out after 30 s"),
        ("failed", 0.1, "", "❌ `docs.search` · 0.1 s"),
        ("denied", None, "denied by Ann", "🚫 `docs.search` · denied by Ann"),
        ("denied", None, "expired", "🚫 `docs.search` · not approved in time"),
        ("denied", None, "cancelled", "🚫 `docs.search` · cancelled: the turn ended"),
    ],
)
def test_each_state_is_one_compact_line(
    state: ToolState, seconds: float | None, note: str, line: str
) -> None:
    assert step_line(ToolStep("c1", "docs.search", state, seconds, note)) == line


def test_a_plain_line_for_the_terminal() -> None:
    assert step_line(ToolStep("c1", "docs.search", "running"), code=False) == "⏳ docs.search…"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (600, "10 minutes"),
        (60, "1 minute"),
        (1, "1 second"),
        (90, "90 seconds"),
        (0.4, "0 seconds"),
    ],
)
def test_how_long_a_request_waited(seconds: float, text: str) -> None:
    assert duration_text(timedelta(seconds=seconds)) == text


def test_refusals_name_the_asker_and_decisions_say_nothing() -> None:
    assert refusal_text("not_allowed", "Ann") == "Only Ann or an admin can approve this."
    assert refusal_text("not_allowed", "") == (
        "Only the person who asked or an admin can approve this."
    )
    assert refusal_text("decided", "Ann") == "Already decided."
    assert refusal_text("expired", "Ann") == "This request expired."
    assert refusal_text("unknown", "Ann") == "This request is no longer waiting."
    assert refusal_text("approved", "Ann") is None and refusal_text("denied", "Ann") is None


async def test_a_line_read_for_a_reader_that_gave_up_goes_to_the_next() -> None:
    typed: asyncio.Queue[str] = asyncio.Queue()
    reading = asyncio.Event()

    async def read_line() -> str:
        """Like the terminal's reading thread: once begun, it takes the next line typed,
        whoever still waits for it."""
        reading.set()
        return await asyncio.shield(asyncio.ensure_future(typed.get()))

    lines = LineQueue(read_line)
    waiting = asyncio.create_task(lines.next())
    await reading.wait()  # the read is under way (a terminal read cannot be taken back)
    waiting.cancel()
    typed.put_nowait("y\n")
    typed.put_nowait("hello\n")
    assert await lines.next() == "y\n"
    assert await lines.next() == "hello\n"
