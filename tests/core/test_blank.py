"""What counts as an empty mention."""

from __future__ import annotations

import pytest

from core.blank import is_blank


@pytest.mark.parametrize(
    "text", ["", " \n\t", "\u200b\u200c\u200d\ufeff", "\x00\r\x1b", "\u202e\u2063"]
)
def test_invisible_text_is_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", ["?", "🎉", "\u200bhi", "مرحبا", "a\x00"])
def test_anything_visible_is_not(text: str) -> None:
    assert not is_blank(text)
