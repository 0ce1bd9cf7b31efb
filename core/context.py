"""Fits the system prompt, few-shot examples, history and the new message into the token budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.config import Example
from core.errors import ContextTooLong
from core.tokens import Tokenizers, byte_bound
from core.tools.exchange import Exchange
from core.types import ImagePart, PromptMessage, StoredMessage

# OpenAI's accounting: every message costs a few tokens of framing, and the reply is primed
# with a few more. Counting them keeps the budget honest for long threads of short messages.
TOKENS_PER_MESSAGE: Final = 3
TOKENS_FOR_REPLY_PRIMING: Final = 3
# When history must be cut, it is cut only at a few fixed points, about an eighth of the
# budget apart: the first kept message then stays the same for several turns, so the
# request keeps a stable prefix and providers' prompt caches keep hitting.
CACHE_STEPS: Final = 8
# What one image costs at "auto" detail for a typical chat screenshot; not exact, but
# images are rare enough that a fixed estimate keeps the arithmetic simple.
TOKENS_PER_IMAGE: Final = 765
CUT_MARKER: Final = "\n[… message cut: it was too long for this model's context window]"
INTERRUPTED_MARKER: Final = "\n\n[this reply was cut off before it finished]"


@dataclass(frozen=True, slots=True)
class ContextRequest:
    model: str
    system_prompt: str
    examples: tuple[Example, ...]
    history: Sequence[StoredMessage]  # oldest first
    history_has_older: bool
    new_turn: str  # already attributed to its author (see user_turn)
    new_images: tuple[ImagePart, ...]
    budget: int  # context_tokens - max_tokens
    # new_turn's count when the caller has it (taken when the message was stored): a
    # long paste is then tokenized once per turn, not once per step.
    new_turn_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ContextWindow:
    messages: tuple[PromptMessage, ...]
    prompt_tokens: int
    dropped_messages: int  # stored messages left out, oldest first
    older_omitted: bool  # the store held even older ones that were never loaded
    input_truncated: bool


def user_turn(author_name: str, text: str) -> str:
    """How a user's words appear to the model: every model reads a name in brackets.

    The OpenAI `name` field would be tidier, but it rejects spaces and most scripts.
    """
    return f"[{author_name}] {text}" if author_name else text


def history_turn(message: StoredMessage) -> PromptMessage | None:
    """How a stored message is replayed; its token_count is the count of this rendering."""
    if message.status == "failed" or not message.content:
        return None  # nothing the model said; a failed turn leaves no trace
    if message.role == "user":
        return PromptMessage("user", user_turn(message.author_name, message.content))
    if message.status == "partial":
        return PromptMessage("assistant", message.content + INTERRUPTED_MARKER)
    return PromptMessage(message.role, message.content)


def history_turns(message: StoredMessage) -> tuple[PromptMessage, ...]:
    """A stored message as replayed: a reply that called tools brings its calls and their
    results first (even one cut or failed later: what the tools did stays known)."""
    exchange = Exchange.from_json(message.tools) if message.tools else None
    if exchange is None or not exchange.rounds or message.role != "assistant":
        turn = history_turn(message)
        return (turn,) if turn is not None else ()
    return reply_turns(message.content, message.status == "complete", exchange)


def reply_turns(content: str, complete: bool, exchange: Exchange) -> tuple[PromptMessage, ...]:
    """A reply that called tools as the model reads it: each round's text with its calls,
    the results, then the text written after the last round (`content` holds it all)."""
    said = "".join(round_.text for round_ in exchange.rounds)
    text = content[len(said) :] if content.startswith(said) else content
    if not complete or not text:
        text = (text + INTERRUPTED_MARKER).lstrip("\n")
    return (*exchange.prompt_messages(), PromptMessage("assistant", text))


def replay_text(turns: Sequence[PromptMessage]) -> str:
    """All the text of a stored message's replay, as its token_count counts it."""
    if len(turns) == 1 and not turns[0].tool_calls:
        return turns[0].content
    parts = [m.content for m in turns]
    parts += [c.name + c.arguments for m in turns for c in m.tool_calls]
    return "\n".join(parts)


def fits_uncut(request: ContextRequest, tokenizers: Tokenizers) -> ContextWindow | None:
    """The window with nothing dropped or cut, when the counts at hand show that it fits;
    None when only `build_context`'s exact counts can tell.

    Before the model's tokenizer is loaded those counts are upper bounds (`measure`), so a
    conversation well inside its budget is answered without ever loading it.
    """
    head = _head(request)
    measure = tokenizers.count_repeated if tokenizers.loaded(request.model) else _bound
    used = TOKENS_FOR_REPLY_PRIMING + sum(
        measure(request.model, m.content) + TOKENS_PER_MESSAGE for m in head
    )
    image_cost = TOKENS_PER_IMAGE * len(request.new_images)
    if request.budget - used - image_cost < TOKENS_PER_MESSAGE + 16:
        return None  # build_context says why there is no room
    turn_tokens = request.new_turn_tokens
    if turn_tokens is None:
        turn_tokens = tokenizers.measure(request.model, request.new_turn)
    used += turn_tokens + TOKENS_PER_MESSAGE + image_cost
    usable = [(stored, turns) for stored in request.history if (turns := history_turns(stored))]
    used += sum(stored.token_count + TOKENS_PER_MESSAGE * len(turns) for stored, turns in usable)
    if used > request.budget:
        return None
    new_turn = PromptMessage("user", request.new_turn, request.new_images)
    return ContextWindow(
        messages=(*head, *(turn for _, turns in usable for turn in turns), new_turn),
        prompt_tokens=used,
        dropped_messages=0,
        older_omitted=request.history_has_older,
        input_truncated=False,
    )


def build_context(request: ContextRequest, tokenizers: Tokenizers) -> ContextWindow:
    """The window in exact counts, loading the model's tokenizer if it must (call it off
    the event loop when it is not loaded)."""
    head = _head(request)
    used = TOKENS_FOR_REPLY_PRIMING + sum(
        tokenizers.count_repeated(request.model, m.content) + TOKENS_PER_MESSAGE for m in head
    )
    image_cost = TOKENS_PER_IMAGE * len(request.new_images)
    room_for_turn = request.budget - used - image_cost
    if room_for_turn < TOKENS_PER_MESSAGE + 16:
        raise ContextTooLong(
            f"system prompt and examples take {used} of {request.budget} tokens",
            user_message="This persona's instructions leave no room for a message; "
            "an admin should raise context_tokens.",
        )
    turn_text, truncated, turn_tokens = _fit_turn(
        request, tokenizers, room_for_turn - TOKENS_PER_MESSAGE
    )
    used += turn_tokens + TOKENS_PER_MESSAGE + image_cost

    usable = [(stored, turns) for stored in request.history if (turns := history_turns(stored))]
    # token_count was taken of exactly this rendering when the message was stored, as an
    # upper bound if the tokenizer was not loaded then (count_stored makes it exact). A
    # reply with its tool calls goes or stays whole: results never lose their call.
    costs = [
        tokenizers.count_stored(request.model, stored.id, stored.token_count, replay_text(turns))
        + TOKENS_PER_MESSAGE * len(turns)
        for stored, turns in usable
    ]
    start = _first_kept(costs, request.budget - used, request.budget // CACHE_STEPS)
    used += sum(costs[start:])
    kept = [turn for _, turns in usable[start:] for turn in turns]
    dropped = start
    messages = (*head, *kept, PromptMessage("user", turn_text, request.new_images))
    return ContextWindow(
        messages=tuple(messages),
        prompt_tokens=used,
        dropped_messages=dropped,
        older_omitted=request.history_has_older,
        input_truncated=truncated,
    )


def prompt_tokens_of(messages: Sequence[PromptMessage], model: str, tokenizers: Tokenizers) -> int:
    """The exact count of a window's messages, as build_context adds them up."""
    return TOKENS_FOR_REPLY_PRIMING + sum(
        tokenizers.count(model, m.content) + TOKENS_PER_MESSAGE + TOKENS_PER_IMAGE * len(m.images)
        for m in messages
    )


def _bound(_model: str, text: str) -> int:
    return byte_bound(text)


def _head(request: ContextRequest) -> list[PromptMessage]:
    head = [PromptMessage("system", request.system_prompt)]
    for example in request.examples:
        head += [PromptMessage("user", example.user), PromptMessage("assistant", example.assistant)]
    return head


def _first_kept(costs: list[int], room: int, step: int) -> int:
    """Index of the oldest history message to send, so that the rest fits in `room`.

    History stays contiguous (nothing older than a dropped message is sent). When some must
    go, the cut moves forward to the next point where the running total from the start of
    the history crosses a multiple of `step`: those points do not move as the thread grows,
    as long as the whole thread is loaded. Past `limits.history_messages` the loaded window
    itself slides by a turn each turn and so do the points (known weakness).
    """
    total = sum(costs)
    start = 0
    while start < len(costs) and total > room:
        total -= costs[start]
        start += 1
    if start == 0 or step <= 0:
        return start
    before = sum(costs[:start])
    boundary = start
    # The first message whose running total starts a new step at or after the greedy cut.
    while boundary < len(costs) and (before // step) == ((before - costs[boundary - 1]) // step):
        before += costs[boundary]
        boundary += 1
    return boundary if boundary < len(costs) else start


def _fit_turn(request: ContextRequest, tokenizers: Tokenizers, room: int) -> tuple[str, bool, int]:
    """The new turn's text, cut to `room` tokens if it must be; whether it was; its count."""
    model, text = request.model, request.new_turn
    tokens = request.new_turn_tokens
    if tokens is None or tokens == byte_bound(text):  # not known, or only as a bound
        tokens = tokenizers.count(model, text)
    if tokens <= room:
        return text, False, tokens
    keep = max(room - tokenizers.count(model, CUT_MARKER), 0)
    while True:
        # Counted after joining: the tokenizer may merge across the seam (CRLF does).
        cut = tokenizers.truncate(model, text, keep) + CUT_MARKER
        tokens = tokenizers.count(model, cut)
        if keep == 0 or tokens <= room:
            return cut, True, tokens
        keep -= 1
