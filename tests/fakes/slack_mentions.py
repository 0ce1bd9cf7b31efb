"""Who a message posted to the fake Slack would notify: its mention syntax, read strictly."""

from __future__ import annotations

import re

# <!here>, <!channel>, <!everyone>, <!group>, <!subteam^ID>, <@U…>, <@W…>, with a label or not.
_SPECIAL = re.compile(r"<!(here|channel|everyone|group)(?:\|[^>]*)?>", re.IGNORECASE)
_GROUP = re.compile(r"<!subteam\^([A-Za-z0-9]+)(?:\|[^>]*)?>")
_USER = re.compile(r"<@([UW][A-Za-z0-9]+)(?:\|[^>]*)?>")
# Bare words notify when a post sets link_names (or a markdown parser links them): the fake
# counts them too, so a test holds whichever way Slack reads markdown_text.
_BARE = re.compile(r"(?<!\w)@(here|channel|everyone)\b", re.IGNORECASE)


def pings(text: str) -> set[str]:
    """ "here", "channel", "everyone", "group:<id>" and "user:<id>" for what `text` notifies."""
    found = {name.lower() for name in _SPECIAL.findall(text)}
    found |= {name.lower() for name in _BARE.findall(text)}
    found |= {f"group:{group}" for group in _GROUP.findall(text)}
    found |= {f"user:{user}" for user in _USER.findall(text)}
    return {"channel" if name == "group" else name for name in found}
