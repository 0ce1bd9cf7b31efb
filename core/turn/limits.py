"""A turn's deadlines, length cap and prompt size, kept whatever the provider or tools send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from core.config.schema import LimitsConfig, PersonaConfig
from core.context import prompt_tokens_of
from core.errors import ContextTooLong, ReplyCut, ReplyTimedOut
from core.model_events import ModelEvent, TextDelta
from core.tokens import Tokenizers
from core.types import PromptMessage

# The cap on one reply's characters, per token of the persona's max_tokens. English runs
# about 4 characters a token, code about 3, CJK 1 to 2: an honest reply within max_tokens
# never comes near 8, and a provider that ignores max_tokens is stopped within twice of it.
CHARS_PER_TOKEN = 8
# A persona with a tiny max_tokens still gets room for a sentence.
MIN_REPLY_CHARS = 400


def reply_chars(max_tokens: int, limits: LimitsConfig) -> int:
    """The most characters Parley shows for one reply of a persona capped at `max_tokens`."""
    return min(max(max_tokens * CHARS_PER_TOKEN, MIN_REPLY_CHARS), limits.reply_chars)


async def within_limits(
    events: AsyncIterator[ModelEvent], limits: LimitsConfig, max_tokens: int
) -> AsyncGenerator[ModelEvent, None]:
    """The model's events until a deadline passes or the reply reaches its cap.

    The provider's read timeout cannot end a stream that stays alive: keep-alive comments,
    content-less chunks or one word a second each reset it. So the deadlines are Parley's,
    on every wait for the next event, retries included; the time the sink takes to show
    text counts too, as the user waits for that as well.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    first_text_at = started + limits.first_text_seconds
    reply_at = started + limits.reply_seconds
    cap = reply_chars(max_tokens, limits)
    shown = 0
    while True:
        first = shown == 0 and first_text_at < reply_at
        deadline = first_text_at if first else reply_at
        try:
            async with asyncio.timeout_at(deadline):
                event = await anext(events)
        except StopAsyncIteration:
            return
        except TimeoutError as late:
            raise _late(first, limits) from late
        if isinstance(event, TextDelta) and shown + len(event.text) > cap:
            room = cap - shown
            if room > 0:
                yield TextDelta(event.text[:room])
            raise ReplyCut(
                f"the reply was cut at {cap} characters (max_tokens {max_tokens},"
                f" limits.reply_chars {limits.reply_chars})"
            )
        if isinstance(event, TextDelta):
            shown += len(event.text)
        yield event


def _late(first: bool, limits: LimitsConfig) -> ReplyTimedOut:
    if first:
        seconds = limits.first_text_seconds
        return ReplyTimedOut(
            f"the first text did not come within {seconds:g}s (limits.first_text_seconds)"
        )
    seconds = limits.reply_seconds
    return ReplyTimedOut(f"the whole reply did not end within {seconds:g}s (limits.reply_seconds)")


async def prompt_fits(
    persona: PersonaConfig, messages: Sequence[PromptMessage], tokenizers: Tokenizers
) -> None:
    """Results cut one by one can still overflow together (many calls, many rounds): a
    request past the persona's context budget never goes out."""
    budget = persona.context_tokens - persona.max_tokens
    used = await asyncio.to_thread(prompt_tokens_of, messages, persona.model, tokenizers)
    if used > budget:
        raise ContextTooLong(
            f"the tool results brought the prompt to {used} tokens, past {budget}",
            user_message="The tools' results were too long for me to read them all. "
            "Please ask for less at a time.",
        )
