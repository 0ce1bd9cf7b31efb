"""What `parley store copy` shows while it works: a bar on a terminal, lines in a log."""

from __future__ import annotations

import io

from cli.store_copy_progress import PlainLines, TerminalBar


def test_the_bar_is_redrawn_in_place_and_each_table_ends_on_a_line_of_its_own() -> None:
    out = io.StringIO()
    bar = TerminalBar(out)
    bar.table_started("messages", 10_000, 4_000)
    bar.batch_copied("messages", 6_000, 0)
    bar.table_done("messages")
    bar.table_started("usage", 0, 0)
    bar.table_done("usage")
    text = out.getvalue()
    first_draw = text.split("\r")[1]
    assert first_draw.startswith("\033[Kmessages") and "4,000/10,000" in first_draw
    assert "[##########" in first_draw and "40%" in first_draw
    lines = text.split("\n")
    assert (
        lines[0]
        .rsplit("\r", 1)[-1]
        .startswith("\033[Kmessages: 6,000 copied, 4,000 already there, 10,000 in the source")
    )
    assert "usage: 0 copied, 0 already there, 0 in the source" in lines[1]
    assert lines[2] == ""  # nothing left half-drawn


def test_plain_lines_say_when_a_table_starts_and_ends() -> None:
    out = io.StringIO()
    lines = PlainLines(out)
    lines.table_started("messages", 10_000, 4_000)
    lines.batch_copied("messages", 6_000, 0)
    lines.table_done("messages")
    said = out.getvalue().splitlines()
    assert said[0] == "messages: copying 10,000 rows (4,000 already there)"
    assert said[-1].startswith("messages: 6,000 copied, 4,000 already there, 10,000 in the")
    assert "\r" not in out.getvalue()
