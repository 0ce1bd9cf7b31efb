"""The Discord adapter's pure helpers: which conversation a channel is, and names it shows."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bots.discord.router import (
    DM_WORKSPACE,
    THREAD_NAME_LIMIT,
    channel_name,
    conversation_in,
    thread_name,
)
from core.types import ConversationKey


@dataclass
class Channel:
    """Stands in for a text channel or DM channel: only what the helpers read."""

    id: int
    name: str | None = None


def test_a_dm_is_one_conversation_per_channel() -> None:
    key = conversation_in(None, Channel(42))
    assert key == ConversationKey("discord", DM_WORKSPACE, "42", "dm")


def test_a_plain_guild_channel_is_no_single_conversation() -> None:
    assert conversation_in(1300, Channel(42, "general")) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what is new?", "what is new?"),
        ("  first line\nsecond line", "first line"),
        ("", "Parley"),
        ("   \n\t ", "Parley"),
        ("a\x00b\x1b[31mc", "ab[31mc"),  # control characters never reach a channel name
        ("\x00\x07", "Parley"),
    ],
)
def test_a_thread_is_named_by_the_first_line_of_the_question(text: str, expected: str) -> None:
    assert thread_name(text) == expected


def test_a_long_question_is_cut_to_discords_limit_without_trailing_space() -> None:
    name = thread_name("word " * 40)
    assert len(name) <= THREAD_NAME_LIMIT and not name.endswith(" ")
    assert name.startswith("word word")


def test_channel_names_read_as_people_see_them() -> None:
    assert channel_name(Channel(1, "general")) == "#general"
    assert channel_name(Channel(2)) == "a direct message"
    assert channel_name(object()) == "a direct message"
