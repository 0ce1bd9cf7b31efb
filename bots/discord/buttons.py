"""The 👍/👎 buttons on the last part of a finished Discord reply."""

from __future__ import annotations

import discord

# A button's custom_id: this prefix, the rating and the stored reply's id ("…:up:42").
CUSTOM_ID_PREFIX = "parley_feedback"


class FeedbackButtons(discord.ui.View):
    """Two buttons that carry the reply's id in their custom ids. Never kept in
    discord.py's view store: any process of this bot answers a click (see `answer_click`),
    and a store of one view per reply would only grow."""

    def __init__(self, reply_id: int) -> None:
        super().__init__(timeout=None)
        for rating, emoji in (("up", "👍"), ("down", "👎")):
            self.add_item(
                discord.ui.Button(
                    style=discord.ButtonStyle.secondary,
                    emoji=emoji,
                    custom_id=f"{CUSTOM_ID_PREFIX}:{rating}:{reply_id}",
                )
            )

    def is_dispatchable(self) -> bool:
        return False
