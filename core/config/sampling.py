"""The shape of a persona's stop strings, and the limits of llama.cpp's sampling settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from core.config.messages import shown

# Chat Completions takes at most four stop strings; llama.cpp takes more, but one limit for
# every provider keeps a persona portable between them.
MAX_STOP_STRINGS = 4
# llama.cpp keeps a seed in 32 bits and reads 0xFFFFFFFF as "pick a random seed".
LLAMACPP_MAX_SEED = 2**32 - 2


def _as_list(value: object) -> object:
    """One stop string may be written bare, and null means none, as for other optional keys;
    anything else but a list is refused here, so the message names both accepted forms."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return value
    raise PydanticCustomError(
        "stop_type",
        "expected text or a list of up to {most} texts, got {given}",
        {"most": MAX_STOP_STRINGS, "given": shown(value)},
    )


StopStrings = Annotated[
    tuple[Annotated[str, Field(min_length=1)], ...],
    BeforeValidator(_as_list),
    Field(max_length=MAX_STOP_STRINGS),
]
