"""Tells an empty mention from a question: nothing visible is left once the mention is gone."""

from __future__ import annotations

import unicodedata

# Controls, format characters (zero-width spaces and joiners, BOM, direction marks),
# separators and lone surrogates: text made only of these shows nothing to answer.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def is_blank(text: str) -> bool:
    """True when `text` has no visible character, so a model call would answer nothing."""
    return all(unicodedata.category(char) in _INVISIBLE for char in text)
