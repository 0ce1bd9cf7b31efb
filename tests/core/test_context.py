"""build_context: message order, exact token accounting and what is cut to fit the budget."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import Example
from core.context import (
    CACHE_STEPS,
    CUT_MARKER,
    INTERRUPTED_MARKER,
    TOKENS_FOR_REPLY_PRIMING,
    TOKENS_PER_IMAGE,
    TOKENS_PER_MESSAGE,
    ContextRequest,
    ContextWindow,
    build_context,
    history_turn,
    user_turn,
)
from core.errors import ContextTooLong
from core.tokens import Tokenizers
from core.types import ImagePart, MessageStatus, PromptMessage, Role, StoredMessage

MODEL = "gpt-4o-mini"
SYSTEM = "You are Parley, a helpful assistant. Answer concisely."
EXAMPLES = (
    Example(user="Is `if x == None:` fine?", assistant="Use `if x is None:` instead."),
    Example(user="And for booleans?", assistant="Write `if flag:`, not `if flag == True:`."),
)
NEW_TURN = user_turn("Alice", "Please summarise what everyone in this thread has said so far.")
PNG = ImagePart("image/png", b"\x89PNG\r\n\x1a\n")
JPEG = ImagePart("image/jpeg", b"\xff\xd8\xff\xe0")
BIG = 1_000_000


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> Tokenizers:
    cache_dir: Path = tmp_path_factory.mktemp("tok")
    return Tokenizers(cache_dir=cache_dir)


def stored(
    tokenizers: Tokenizers,
    message_id: int,
    role: Role,
    content: str,
    author_name: str = "",
    status: MessageStatus = "complete",
) -> StoredMessage:
    """A stored message whose token_count is the real count of its replayed rendering."""
    message = StoredMessage(
        id=message_id,
        role=role,
        author_id=f"U{message_id}",
        author_name=author_name,
        content=content,
        status=status,
        token_count=0,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    turn = history_turn(message)
    count = tokenizers.count(MODEL, turn.content) if turn is not None else 0
    return dataclasses.replace(message, token_count=count)


def request(
    history: Sequence[StoredMessage] = (),
    *,
    budget: int = BIG,
    system_prompt: str = SYSTEM,
    examples: tuple[Example, ...] = EXAMPLES,
    new_turn: str = NEW_TURN,
    new_images: tuple[ImagePart, ...] = (),
    history_has_older: bool = False,
) -> ContextRequest:
    return ContextRequest(
        model=MODEL,
        system_prompt=system_prompt,
        examples=examples,
        history=history,
        history_has_older=history_has_older,
        new_turn=new_turn,
        new_images=new_images,
        budget=budget,
    )


def cost(tokenizers: Tokenizers, text: str) -> int:
    return tokenizers.count(MODEL, text) + TOKENS_PER_MESSAGE


def head_cost(tokenizers: Tokenizers, req: ContextRequest) -> int:
    """Reply priming, the system prompt and the examples: what every window pays."""
    texts = [req.system_prompt]
    for example in req.examples:
        texts += [example.user, example.assistant]
    return TOKENS_FOR_REPLY_PRIMING + sum(cost(tokenizers, text) for text in texts)


def history_cost(messages: Sequence[StoredMessage]) -> int:
    return sum(message.token_count + TOKENS_PER_MESSAGE for message in messages)


def expected_tokens(
    tokenizers: Tokenizers, req: ContextRequest, kept: Sequence[StoredMessage], turn_text: str
) -> int:
    images = TOKENS_PER_IMAGE * len(req.new_images)
    return head_cost(tokenizers, req) + history_cost(kept) + cost(tokenizers, turn_text) + images


def recount(tokenizers: Tokenizers, window: ContextWindow) -> int:
    """The window's cost counted from scratch, from the messages actually sent."""
    return TOKENS_FOR_REPLY_PRIMING + sum(
        cost(tokenizers, message.content) + TOKENS_PER_IMAGE * len(message.images)
        for message in window.messages
    )


def thread(tokenizers: Tokenizers) -> list[StoredMessage]:
    """Six stored messages of different lengths from two people and the bot, oldest first."""
    return [
        stored(tokenizers, 1, "user", "I think we should ship on Friday.", "Alice"),
        stored(tokenizers, 2, "assistant", "Friday works if the migration is done by Thursday."),
        stored(tokenizers, 3, "user", "The migration needs two more days, so no.", "Bob"),
        stored(tokenizers, 4, "assistant", "Then Monday is the earliest safe date."),
        stored(tokenizers, 5, "user", "Monday it is. Can you draft the release notes?", "Alice"),
        stored(tokenizers, 6, "assistant", "Here is a draft: new export button, faster search."),
    ]


def turns(messages: Sequence[StoredMessage]) -> list[PromptMessage]:
    rendered = [history_turn(message) for message in messages]
    return [turn for turn in rendered if turn is not None]


# --- user_turn and history_turn ------------------------------------------------------------


def test_a_user_turn_starts_with_the_author_name_in_brackets() -> None:
    assert user_turn("Alice", "hello") == "[Alice] hello"
    assert user_turn("Ann Lee", "hi there") == "[Ann Lee] hi there"
    assert user_turn("", "no name known") == "no name known"


def test_history_turns_attribute_users_but_not_the_assistant(tokenizers: Tokenizers) -> None:
    alice = stored(tokenizers, 1, "user", "I like tea.", "Alice")
    bob = stored(tokenizers, 2, "user", "I like coffee.", "Bob")
    bot = stored(tokenizers, 3, "assistant", "Noted, both of you.", "Parley")

    assert history_turn(alice) == PromptMessage("user", "[Alice] I like tea.")
    assert history_turn(bob) == PromptMessage("user", "[Bob] I like coffee.")
    assert history_turn(bot) == PromptMessage("assistant", "Noted, both of you.")


def test_a_partial_reply_is_replayed_with_the_interrupted_marker(tokenizers: Tokenizers) -> None:
    partial = stored(tokenizers, 1, "assistant", "The three steps are: first", status="partial")
    assert history_turn(partial) == PromptMessage(
        "assistant", "The three steps are: first" + INTERRUPTED_MARKER
    )


@pytest.mark.parametrize(
    ("role", "content", "status"),
    [
        ("assistant", "half a reply that then failed", "failed"),
        ("user", "a message whose reply failed", "failed"),
        ("assistant", "", "complete"),
        ("user", "", "complete"),
        ("assistant", "", "partial"),
    ],
)
def test_failed_and_empty_messages_are_not_replayed(
    tokenizers: Tokenizers, role: Role, content: str, status: MessageStatus
) -> None:
    assert history_turn(stored(tokenizers, 1, role, content, "Alice", status)) is None


# --- order ---------------------------------------------------------------------------------


def test_messages_come_in_order_system_examples_history_new_turn(tokenizers: Tokenizers) -> None:
    history = thread(tokenizers)
    req = request(history, new_images=(PNG, JPEG))
    window = build_context(req, tokenizers)

    assert window.messages == (
        PromptMessage("system", SYSTEM),
        PromptMessage("user", EXAMPLES[0].user),
        PromptMessage("assistant", EXAMPLES[0].assistant),
        PromptMessage("user", EXAMPLES[1].user),
        PromptMessage("assistant", EXAMPLES[1].assistant),
        PromptMessage("user", "[Alice] I think we should ship on Friday."),
        PromptMessage("assistant", "Friday works if the migration is done by Thursday."),
        PromptMessage("user", "[Bob] The migration needs two more days, so no."),
        PromptMessage("assistant", "Then Monday is the earliest safe date."),
        PromptMessage("user", "[Alice] Monday it is. Can you draft the release notes?"),
        PromptMessage("assistant", "Here is a draft: new export button, faster search."),
        PromptMessage("user", NEW_TURN, (PNG, JPEG)),
    )
    assert window.dropped_messages == 0
    assert window.input_truncated is False
    assert window.prompt_tokens == expected_tokens(tokenizers, req, history, NEW_TURN)
    assert window.prompt_tokens == recount(tokenizers, window)


def test_without_examples_history_follows_the_system_prompt(tokenizers: Tokenizers) -> None:
    history = thread(tokenizers)[:2]
    window = build_context(request(history, examples=()), tokenizers)

    assert [message.role for message in window.messages] == ["system", "user", "assistant", "user"]
    assert window.messages[1].content == "[Alice] I think we should ship on Friday."
    assert window.messages[-1] == PromptMessage("user", NEW_TURN)


def test_only_the_new_turn_carries_images(tokenizers: Tokenizers) -> None:
    window = build_context(request(thread(tokenizers), new_images=(PNG,)), tokenizers)
    assert [message.images for message in window.messages[:-1]] == [()] * 11
    assert window.messages[-1].images == (PNG,)


# --- budget --------------------------------------------------------------------------------


def cut_points(history: Sequence[StoredMessage], step: int) -> set[int]:
    """Where the history may start: 0, and each message whose running total from the start
    crosses a multiple of `step` just before it."""
    points, total = {0}, 0
    for index, message in enumerate(history):
        before = total - history_cost(history[index - 1 : index])
        if index and total // step != before // step:
            points.add(index)
        total += history_cost([message])
    return points


@pytest.mark.parametrize("keep", [0, 1, 2, 3, 4, 5, 6])
def test_the_budget_keeps_the_newest_messages_that_fit_from_a_cut_point(
    tokenizers: Tokenizers, keep: int
) -> None:
    history = thread(tokenizers)
    fixed = expected_tokens(tokenizers, request(history, budget=0), [], NEW_TURN)
    older = history[: len(history) - keep]
    exact_fit = fixed + history_cost(history[len(history) - keep :])
    # Exactly enough for the newest `keep`, and one token short of one more.
    budgets = [exact_fit, exact_fit + history_cost(older[-1:]) - 1] if older else [exact_fit]

    for budget in budgets:
        req = request(history, budget=budget)
        window = build_context(req, tokenizers)

        start = window.dropped_messages
        greedy = len(history) - keep
        points = cut_points(history, budget // CACHE_STEPS)
        later = [p for p in points if greedy <= p < len(history)]
        # The cut moves to the first cut point at or after the tightest one, never further;
        # with no cut point left, it stays at the tightest.
        assert start == (min(later) if greedy and later else greedy)
        assert list(window.messages[5:-1]) == turns(history[start:])
        assert window.prompt_tokens == expected_tokens(tokenizers, req, history[start:], NEW_TURN)
        assert window.prompt_tokens == recount(tokenizers, window)
        assert window.prompt_tokens <= budget
        assert window.input_truncated is False


def test_a_growing_thread_keeps_the_same_first_message_for_several_turns(
    tokenizers: Tokenizers,
) -> None:
    # 60 turns of a thread that outgrew its budget long ago: with a cut that moved one
    # message per turn, every request would start differently and no prompt cache would hit.
    budget = 2_000
    history: list[StoredMessage] = []
    starts: list[int] = []
    for number in range(1, 121):
        role: Role = "user" if number % 2 else "assistant"
        text = f"Message {number}: " + "we keep talking about the release plan " * (number % 5 + 1)
        history.append(stored(tokenizers, number, role, text, "Alice" if role == "user" else ""))
        if role == "assistant":
            window = build_context(request(history, budget=budget), tokenizers)
            assert window.prompt_tokens <= budget
            # Never more than a step's worth of room is given up for stability.
            last_dropped = history[window.dropped_messages - 1 : window.dropped_messages]
            unused = budget - window.prompt_tokens
            assert not last_dropped or unused < budget // CACHE_STEPS + history_cost(last_dropped)
            starts.append(window.dropped_messages)
    cutting = [s for s in starts if s > 0]
    changes = sum(1 for a, b in itertools.pairwise(cutting) if a != b)
    assert len(cutting) > 20
    assert changes <= len(cutting) // 3
    assert starts == sorted(starts)


def test_an_older_message_is_not_kept_once_a_newer_one_did_not_fit(
    tokenizers: Tokenizers,
) -> None:
    # The newest message is huge; the short ones before it would fit, but history stays
    # contiguous: nothing older than a dropped message is sent.
    history = [
        stored(tokenizers, 1, "user", "ok", "Alice"),
        stored(tokenizers, 2, "assistant", "Sure."),
        stored(tokenizers, 3, "user", "lorem ipsum " * 400, "Bob"),
    ]
    req = request(history, budget=0)
    budget = expected_tokens(tokenizers, req, history[:2], NEW_TURN)
    window = build_context(request(history, budget=budget), tokenizers)

    assert window.messages[5:-1] == ()
    assert window.dropped_messages == 3


@pytest.mark.parametrize("has_older", [True, False])
def test_older_omitted_mirrors_history_has_older(tokenizers: Tokenizers, has_older: bool) -> None:
    roomy = build_context(request(thread(tokenizers), history_has_older=has_older), tokenizers)
    tight = build_context(
        request(thread(tokenizers), history_has_older=has_older, budget=400), tokenizers
    )
    assert roomy.older_omitted is has_older
    assert tight.older_omitted is has_older


def test_failed_and_empty_messages_are_skipped_not_dropped(tokenizers: Tokenizers) -> None:
    history = [
        stored(tokenizers, 1, "user", "What is 2 + 2?", "Alice"),
        stored(tokenizers, 2, "assistant", "", "Parley", "failed"),
        stored(tokenizers, 3, "user", "Hello?", "Alice"),
        stored(tokenizers, 4, "assistant", "The answer is 4, and", "Parley", "partial"),
        stored(tokenizers, 5, "user", "", "Bob"),
        stored(tokenizers, 6, "assistant", "provider error", "Parley", "failed"),
    ]
    req = request(history)
    window = build_context(req, tokenizers)

    assert list(window.messages[5:-1]) == [
        PromptMessage("user", "[Alice] What is 2 + 2?"),
        PromptMessage("user", "[Alice] Hello?"),
        PromptMessage("assistant", "The answer is 4, and" + INTERRUPTED_MARKER),
    ]
    assert window.dropped_messages == 0
    kept = [history[0], history[2], history[3]]
    assert window.prompt_tokens == expected_tokens(tokenizers, req, kept, NEW_TURN)

    # Room for the newest usable message only: the two older usable ones are dropped,
    # the skipped ones are not counted.
    budget = expected_tokens(tokenizers, req, [history[3]], NEW_TURN)
    tight = build_context(request(history, budget=budget), tokenizers)
    assert list(tight.messages[5:-1]) == [
        PromptMessage("assistant", "The answer is 4, and" + INTERRUPTED_MARKER)
    ]
    assert tight.dropped_messages == 2
    assert tight.prompt_tokens == budget


def test_a_multi_user_thread_names_each_author(tokenizers: Tokenizers) -> None:
    history = [
        stored(tokenizers, 1, "user", "I prefer tabs.", "Alice"),
        stored(tokenizers, 2, "user", "I prefer spaces.", "Bob"),
        stored(tokenizers, 3, "assistant", "Both work; pick one per project.", "Parley"),
    ]
    new_turn = user_turn("Bob", "Which did Alice prefer?")
    window = build_context(request(history, examples=(), new_turn=new_turn), tokenizers)

    assert [message.content for message in window.messages[1:]] == [
        "[Alice] I prefer tabs.",
        "[Bob] I prefer spaces.",
        "Both work; pick one per project.",
        "[Bob] Which did Alice prefer?",
    ]
    assert not any(
        message.content.startswith("[") for message in window.messages if message.role != "user"
    )


# --- the new message -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "word " * 3000,
        "日本語のテキストを要約してください。" * 400,
        "🙂 ok 🎉 " * 800,
        "line of code();\n" * 1000,
    ],
)
def test_a_new_message_bigger_than_the_budget_is_cut_to_fit(
    tokenizers: Tokenizers, text: str
) -> None:
    history = thread(tokenizers)
    budget = 300
    req = request(history, budget=budget, new_turn=user_turn("Alice", text))
    window = build_context(req, tokenizers)

    last = window.messages[-1]
    assert window.input_truncated is True
    assert last.role == "user"
    assert last.content.endswith(CUT_MARKER)
    kept_text = last.content.removesuffix(CUT_MARKER)
    assert kept_text.startswith("[Alice] ")
    assert req.new_turn.startswith(kept_text.rstrip("\ufffd"))
    assert len(kept_text) > len("[Alice] ") + 10  # the cut keeps what fits, not nothing
    assert window.messages[0] == PromptMessage("system", SYSTEM)
    assert window.prompt_tokens == recount(tokenizers, window)
    assert window.prompt_tokens <= budget
    # The new message took all the room there was: no history fits beside it.
    assert window.dropped_messages == len(history)


def test_a_cut_message_with_windows_line_endings_still_fits_the_budget(
    tokenizers: Tokenizers,
) -> None:
    # Text pasted from Windows: CRLF line endings. The cut part and the marker are counted
    # separately, but tokenised together the boundary costs one token more.
    window = build_context(request(budget=120, new_turn=".\r\n\n" * 500), tokenizers)

    assert window.input_truncated is True
    assert window.messages[-1].content.endswith(CUT_MARKER)
    assert window.prompt_tokens == recount(tokenizers, window)
    assert window.prompt_tokens <= 120


def test_a_long_system_prompt_is_kept_and_the_new_message_cut(tokenizers: Tokenizers) -> None:
    system = "Follow the house style guide to the letter. " * 40
    long_turn = user_turn("Bob", "please review this change " * 200)
    req = request(system_prompt=system, examples=(), new_turn=long_turn, budget=0)
    budget = head_cost(tokenizers, req) + 40
    window = build_context(
        dataclasses.replace(req, history=thread(tokenizers), budget=budget), tokenizers
    )

    assert window.messages[0] == PromptMessage("system", system)
    assert len(window.messages) == 2
    assert window.messages[1].content.endswith(CUT_MARKER)
    assert window.input_truncated is True
    assert window.prompt_tokens == recount(tokenizers, window)
    assert window.prompt_tokens <= budget


def test_a_new_message_that_fits_exactly_is_not_cut(tokenizers: Tokenizers) -> None:
    req = request(budget=0)
    budget = expected_tokens(tokenizers, req, [], NEW_TURN)
    window = build_context(request(budget=budget), tokenizers)

    assert window.messages[-1] == PromptMessage("user", NEW_TURN)
    assert window.input_truncated is False
    assert window.prompt_tokens == budget


@pytest.mark.parametrize(
    ("system_prompt", "examples"),
    [
        ("Be exhaustive. " * 200, ()),
        ("Be brief.", (Example(user="Explain it all. " * 100, assistant="Certainly. " * 100),)),
    ],
)
def test_instructions_larger_than_the_budget_raise_context_too_long(
    tokenizers: Tokenizers, system_prompt: str, examples: tuple[Example, ...]
) -> None:
    req = request(system_prompt=system_prompt, examples=examples, budget=300)
    assert head_cost(tokenizers, req) > 300

    with pytest.raises(ContextTooLong) as raised:
        build_context(req, tokenizers)
    assert "context_tokens" in raised.value.user_message


def test_instructions_that_fill_the_budget_exactly_raise_context_too_long(
    tokenizers: Tokenizers,
) -> None:
    req = request(budget=0)
    with pytest.raises(ContextTooLong) as raised:
        build_context(request(budget=head_cost(tokenizers, req)), tokenizers)
    assert "context_tokens" in raised.value.user_message


# --- images --------------------------------------------------------------------------------


def test_each_image_costs_tokens_per_image(tokenizers: Tokenizers) -> None:
    history = thread(tokenizers)
    plain = build_context(request(history), tokenizers)
    one = build_context(request(history, new_images=(PNG,)), tokenizers)
    two = build_context(request(history, new_images=(PNG, JPEG)), tokenizers)

    assert one.prompt_tokens == plain.prompt_tokens + TOKENS_PER_IMAGE
    assert two.prompt_tokens == plain.prompt_tokens + 2 * TOKENS_PER_IMAGE


def test_images_take_room_from_history(tokenizers: Tokenizers) -> None:
    history = thread(tokenizers)
    req = request(history, budget=0)
    # One token short of all six messages plus an image.
    budget = expected_tokens(tokenizers, req, history, NEW_TURN) + TOKENS_PER_IMAGE - 1

    without = build_context(request(history, budget=budget), tokenizers)
    with_image = build_context(request(history, budget=budget, new_images=(PNG,)), tokenizers)

    assert without.dropped_messages == 0
    assert with_image.dropped_messages == 1
    assert list(with_image.messages[5:-1]) == turns(history[1:])
    assert with_image.messages[-1] == PromptMessage("user", NEW_TURN, (PNG,))
    assert with_image.prompt_tokens == budget - history_cost(history[:1]) + 1


def test_images_that_leave_no_room_raise_context_too_long(tokenizers: Tokenizers) -> None:
    req = request(budget=0)
    budget = head_cost(tokenizers, req) + TOKENS_PER_IMAGE  # room for the image, not the text
    with pytest.raises(ContextTooLong):
        build_context(request(budget=budget, new_images=(PNG,)), tokenizers)


def test_a_count_taken_when_the_message_was_stored_gives_the_same_window(
    tokenizers: Tokenizers,
) -> None:
    req = request(thread(tokenizers))
    exact = tokenizers.count(MODEL, NEW_TURN)
    counted = dataclasses.replace(req, new_turn_tokens=exact)
    assert build_context(counted, tokenizers) == build_context(req, tokenizers)
    # The given count is the one used: the turn is not tokenized again to fit it.
    off_by_one = dataclasses.replace(req, new_turn_tokens=exact + 1)
    assert build_context(off_by_one, tokenizers).prompt_tokens == (
        build_context(req, tokenizers).prompt_tokens + 1
    )
