"""ThinkFilter hides reasoning blocks however the reply is chunked."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from core.think import ThinkFilter

SAMPLES = (
    "",
    "plain reply with no tags",
    "<think>I should greet them.</think>\n\nHello!",
    "<thinking>\nplan\n</thinking>  Sure thing.",
    "Before <think>hidden</think> after",
    "a<think>one</think>b<think>two</think>  c",
    "<think>never closed, so never shown",
    "shown <thinking>cut off",
    "x < y and <b>bold</b> and <thin ice>",
    "<think>uses </thinking> inside</think>done",
    "<thinking>a</think>b</thinking>c",
    "trailing partial <thi",
    "trailing partial close <think>x</thi",
    "</think>stray close tag stays",
    "Okay, reasoning.\n</think>\n\nThe answer.",
    "\n</thinking>\nAnswer </think> kept",
    "  <think>a</think>\n<think>b</think>\n\nc",
    "<think></think>",
    "<think>x</think>   ",
    "<<think>>a</think>>",
    "über <think>ß</think> ünïcode ✓",
)


def run(chunks: list[str], *, reasoning_first: bool = False) -> str:
    think = ThinkFilter(reasoning_first=reasoning_first)
    return "".join(think.feed(chunk) for chunk in chunks) + think.flush()


def reference(text: str, *, reasoning_first: bool = False) -> str:
    """The same rules over the whole text: blocks only at the start, each closed one
    dropped with the blank after it; an unclosed one drops the rest."""
    after_block = False
    while True:
        opening = text.lstrip()
        tagged = re.match(r"<think(ing)?>", opening)
        if tagged:
            closing = "</thinking>" if tagged.group(1) else "</think>"
            end = opening.find(closing, tagged.end())
            if end < 0:
                return ""
            text = opening[end + len(closing) :]
        elif reasoning_first and (bare := re.search(r"</think(ing)?>", text)):
            text = text[bare.end() :]
        else:
            return opening if after_block else text
        after_block, reasoning_first = True, False


def random_chunks(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(0, len(text) - 1)))
    bounds = [0, *cuts, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("text", SAMPLES)
def test_whole_text_matches_reference(text: str, first: bool) -> None:
    assert run([text], reasoning_first=first) == reference(text, reasoning_first=first)


@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("text", SAMPLES)
def test_any_chunking_gives_the_same_output(text: str, first: bool) -> None:
    rng = random.Random(text)
    expected = run([text], reasoning_first=first)
    for _ in range(200):
        chunks = random_chunks(text, rng) if text else [""]
        assert run(chunks, reasoning_first=first) == expected


@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("text", SAMPLES)
def test_one_character_at_a_time(text: str, first: bool) -> None:
    assert run(list(text), reasoning_first=first) == run([text], reasoning_first=first)


def test_tags_split_across_chunks_are_recognised() -> None:
    assert run(["<th", "ink>secret</th", "ink>\n", "\nAnswer"]) == "Answer"


def test_plain_text_is_not_held_back() -> None:
    think = ThinkFilter()
    assert think.feed("Hello, ") == "Hello, "
    assert think.feed("world.") == "world."
    assert think.flush() == ""


def test_only_a_possible_tag_start_is_held_back() -> None:
    think = ThinkFilter()
    assert think.feed("<thi") == ""
    assert think.feed("s is fine") == "<this is fine"
    assert think.feed(" and <think> later is text") == " and <think> later is text"


def test_hidden_text_is_not_shown_while_streaming() -> None:
    think = ThinkFilter()
    assert think.feed("<think>step one") == ""
    assert think.feed(", step two") == ""
    assert think.feed("</think> Result") == "Result"


def test_unclosed_block_is_dropped_at_flush() -> None:
    think = ThinkFilter()
    assert think.feed("<think>never finished") == ""
    assert think.flush() == ""


def test_flush_resets_for_a_new_reply() -> None:
    think = ThinkFilter()
    think.feed("<think>dangling")
    think.flush()
    assert run(["fresh"]) == "fresh"
    assert think.feed("fresh") == "fresh"


# Reasoning is hidden only where a model emits it: at the very start of the reply.
SHOWN_WHOLE = (
    "Wrap the plan in <think> tags, then answer.",
    "Match it with `re.compile(r'<thinking>(.*?)</thinking>')` and move on.",
    "```xml\n<think>a sample</think>\n```\nThat is what R1 prints.",
    "Models like R1 print </think> when they stop reasoning.",
    "Step one.\n<think>not reasoning, the user asked for the tag</think>\nStep two.",
)


@pytest.mark.parametrize("text", SHOWN_WHOLE)
def test_tags_in_prose_or_code_are_shown_as_written(text: str) -> None:
    assert run([text]) == text
    assert run(list(text)) == text


def test_reasoning_first_hides_up_to_a_bare_close_tag() -> None:
    think = ThinkFilter(reasoning_first=True)
    shown = [
        think.feed(part) for part in ("Okay, the user", " says hi.\n</th", "ink>\n\nHello", "!")
    ]
    assert shown == ["", "", "Hello", "!"]
    assert think.flush() == ""
    assert think.closed_bare


def test_reasoning_first_without_a_close_tag_loses_nothing() -> None:
    think = ThinkFilter(reasoning_first=True)
    assert think.feed("Just an answer") == ""
    assert think.flush() == "Just an answer"
    assert not think.closed_bare


def test_reasoning_first_still_hides_a_tagged_block() -> None:
    think = ThinkFilter(reasoning_first=True)
    assert think.feed("<think>plan</think>\nHi") == "Hi"
    assert think.feed(" there, see </think>") == " there, see </think>"
