"""Slack mention syntax in a model's text becomes plain words; links and names stay."""

from __future__ import annotations

import pytest

from bots.slack.mentions import WORD_JOINER, without_pings
from tests.fakes.slack_mentions import pings

AT = "@" + WORD_JOINER


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<!channel> lunch!", f"{AT}channel lunch!"),
        ("<!here|here> and <!everyone>", f"{AT}here and {AT}everyone"),
        ("<!group>", f"{AT}group"),
        ("<!HERE>", f"{AT}HERE"),
        ("ping <!subteam^S0123|@eng>", f"ping {AT}eng"),
        ("ping <!subteam^S0123>", f"ping {AT}S0123"),
        ("ask <@U0123ABC> or <@W0456|bob>", f"ask {AT}U0123ABC or {AT}bob"),
        ("@here and @channel, @Everyone", f"{AT}here and {AT}channel, {AT}Everyone"),
        ("@@here", f"@{AT}here"),
    ],
)
def test_mentions_become_plain_words_that_notify_nobody(text: str, shown: str) -> None:
    assert pings(text)  # the fake sees a ping in the original
    assert without_pings(text) == shown
    assert pings(without_pings(text)) == set()


@pytest.mark.parametrize(
    "text",
    [
        "see <https://example.com/a?b=1|the docs> or <https://example.com>",
        "in <#C0123|general>, on <!date^1700000000^{date}|Nov 14>",
        "mail ops@here.example or team@channel.io",
        "`x @ y`, a @decorator, hereafter",
        "",
    ],
)
def test_links_names_and_ordinary_text_are_left_alone(text: str) -> None:
    assert without_pings(text) == text


def test_a_mention_cut_in_two_by_a_split_notifies_in_neither_part() -> None:
    first, second = "hello <!chan", "nel> there"
    assert pings(without_pings(first)) == pings(without_pings(second)) == set()
