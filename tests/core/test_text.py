"""Lone surrogates from platform JSON are replaced before anything is stored or sent."""

from __future__ import annotations

from core.text import scrub, scrub_message, scrub_prior
from core.types import Author, ConversationKey, IncomingMessage, PriorMessage

KEY = ConversationKey("slack", "T1", "C1", "1.0")


def test_scrub_replaces_only_lone_surrogates() -> None:
    assert scrub("a\ud83db\udc00c 😀") == "a\ufffdb\ufffdc 😀"
    assert scrub("plain") == "plain"


def test_a_clean_message_is_returned_as_is() -> None:
    message = IncomingMessage("b", KEY, Author("U1", "Ann"), "hi 😀", "1.0")
    assert scrub_message(message) is message


def test_every_text_field_is_scrubbed() -> None:
    prior = PriorMessage("user", Author("U2", "B\ud800"), "old \udfff", "0.5")
    message = IncomingMessage(
        "b",
        KEY,
        Author("U1", "A\ud800"),
        "new \ud83d",
        "1.0",
        channel_name="#c\udc00",
    )
    clean = scrub_message(message)
    assert clean.text == "new \ufffd"
    assert clean.author == Author("U1", "A\ufffd")
    assert clean.channel_name == "#c\ufffd"
    assert clean.key == KEY and clean.message_id == "1.0"
    (seed,) = scrub_prior([prior])
    assert seed.text == "old \ufffd"
    assert seed.author.display_name == "B\ufffd"
