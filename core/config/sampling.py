"""The sampling settings a persona may add, and the one only llama.cpp's server takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from core.config.messages import shown
from core.config.paths import Loc

# Chat Completions takes at most four stop strings; llama.cpp takes more, but one limit for
# every provider keeps a persona portable between them.
MAX_STOP_STRINGS = 4
# llama.cpp keeps a seed in 32 bits and reads 0xFFFFFFFF as "pick a random seed".
LLAMACPP_MAX_SEED = 2**32 - 2


def _as_list(value: object) -> object:
    """One stop string may be written bare; anything but text or a list is refused here,
    so the message names both accepted forms."""
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


def local_sampling_problems(
    persona: dict[str, object], provider_type: object, loc: Loc
) -> Iterator[tuple[Loc, str]]:
    """Settings that only a llamacpp provider takes, or takes within a narrower range."""
    local = provider_type == "llamacpp"
    provider = persona.get("provider", "openai")
    if "repeat_penalty" in persona and not local:
        yield (
            (*loc, "repeat_penalty"),
            f"repeat_penalty is llama.cpp's own setting and provider '{provider}' is not a "
            "llamacpp provider (OpenAI-compatible endpoints refuse it); use "
            "frequency_penalty or presence_penalty instead",
        )
    seed = persona.get("seed")
    if local and isinstance(seed, int) and not isinstance(seed, bool) and seed > LLAMACPP_MAX_SEED:
        yield (
            (*loc, "seed"),
            f"must be at most {LLAMACPP_MAX_SEED} for a llamacpp provider: llama.cpp keeps "
            "32 bits of a seed and reads 4294967295 as 'random'",
        )
