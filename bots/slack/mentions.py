"""Slack mentions in text Parley posts, turned into plain words that notify nobody."""

from __future__ import annotations

import re

# Put between "@" and the name: invisible, and no Slack parser sees a mention any more.
WORD_JOINER = "\u2060"

# Slack's mention syntax: <!here>, <!channel>, <!everyone>, <!group> (an old name for
# channel), <!subteam^S…> (a user group), <@U…>/<@W…> (a user), each with an optional
# "|label". Links (<https://…|label>) and channel links (<#C…>) notify nobody and stay.
_MENTION = re.compile(
    r"<(?P<who>!(?:here|channel|everyone|group)\b[^|>]*|!subteam\^[A-Za-z0-9]+|@[UW][A-Za-z0-9]+)"
    r"(?:\|(?P<label>[^>]*))?>",
    re.IGNORECASE,
)
# Bare words: mrkdwn leaves them alone unless a post sets link_names, but Parley posts
# markdown_text, whose parser is Slack's own business; one invisible character is cheap.
_BARE = re.compile(r"(?<!\w)@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)


def without_pings(text: str) -> str:
    """`text` with every mention written out as plain "@name" that Slack does not expand."""
    return _BARE.sub("@" + WORD_JOINER, _MENTION.sub(_plain, text))


def _plain(mention: re.Match[str]) -> str:
    label = (mention.group("label") or "").strip().lstrip("@")
    who = mention.group("who")
    if not label:
        # <!here> → here, <!subteam^S1> → S1, <@U1> → U1
        label = who[1:].split("^")[-1]
    return "@" + WORD_JOINER + label
