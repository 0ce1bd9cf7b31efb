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
    "<think></think>",
    "<think>x</think>   ",
    "<<think>>a</think>>",
    "über <think>ß</think> ünïcode ✓",
)


def run(chunks: list[str]) -> str:
    think = ThinkFilter()
    return "".join(think.feed(chunk) for chunk in chunks) + think.flush()


def reference(text: str) -> str:
    """The same rules written as regular expressions over the whole text."""
    closed = r"<think>.*?</think>\s*|<thinking>.*?</thinking>\s*"
    text = re.sub(closed, "", text, flags=re.DOTALL)
    return re.sub(r"<think(ing)?>.*\Z", "", text, flags=re.DOTALL)


def random_chunks(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(0, len(text) - 1)))
    bounds = [0, *cuts, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


@pytest.mark.parametrize("text", SAMPLES)
def test_whole_text_matches_reference(text: str) -> None:
    assert run([text]) == reference(text)


@pytest.mark.parametrize("text", SAMPLES)
def test_any_chunking_gives_the_same_output(text: str) -> None:
    rng = random.Random(text)
    expected = run([text])
    for _ in range(200):
        assert run(random_chunks(text, rng) if text else [""]) == expected


@pytest.mark.parametrize("text", SAMPLES)
def test_one_character_at_a_time(text: str) -> None:
    assert run(list(text)) == run([text])


def test_tags_split_across_chunks_are_recognised() -> None:
    assert run(["<th", "ink>secret</th", "ink>\n", "\nAnswer"]) == "Answer"


def test_plain_text_is_not_held_back() -> None:
    think = ThinkFilter()
    assert think.feed("Hello, ") == "Hello, "
    assert think.feed("world.") == "world."
    assert think.flush() == ""


def test_only_a_possible_tag_start_is_held_back() -> None:
    think = ThinkFilter()
    assert think.feed("Hello <thi") == "Hello "
    assert think.feed("s is fine") == "<this is fine"


def test_hidden_text_is_not_shown_while_streaming() -> None:
    think = ThinkFilter()
    assert think.feed("<think>step one") == ""
    assert think.feed(", step two") == ""
    assert think.feed("</think> Result") == "Result"


def test_unclosed_block_is_dropped_at_flush() -> None:
    think = ThinkFilter()
    assert think.feed("Intro <think>never finished") == "Intro "
    assert think.flush() == ""


def test_flush_resets_for_a_new_reply() -> None:
    think = ThinkFilter()
    think.feed("<think>dangling")
    think.flush()
    assert run(["fresh"]) == "fresh"
    assert think.feed("fresh") == "fresh"
