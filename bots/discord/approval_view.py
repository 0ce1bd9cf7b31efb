"""A tool approval request as a Discord message: its words, its buttons, its settled form."""

from __future__ import annotations

import discord

from bots.reply.tool_text import decision_mark
from core.types import ApprovalRequest, ApprovalSettled

# Of Discord's 2,000 characters, what the arguments may take: the rest is the words around
# them (a display name is at most 32 characters, a tool name short).
ARGUMENTS_ROOM = 1600
# A button's custom_id: "parley:tool:approve:<request id>:<asker's user id>". The asker is
# there only so a refusal can name them; whether a click counts is core's decision.
CUSTOM_ID_PREFIX = "parley:tool:"


def request_content(request: ApprovalRequest) -> str:
    unix = int(request.expires_at.timestamp())
    return f"{_described(request)}\n-# Expires <t:{unix}:R>: unanswered, it is denied."


def settled_content(settled: ApprovalSettled, decision: str) -> str:
    return f"{_described(settled.request)}\n{decision_mark(settled)} {decision}"


def _described(request: ApprovalRequest) -> str:
    who = discord.utils.escape_markdown(request.asked_by.display_name)
    head = f"✋ **{who}** asked me to run `{request.tool}` with:\n"
    arguments = request.arguments.replace("```", "`\u200b``")
    room = ARGUMENTS_ROOM
    if len(arguments) > room:
        arguments = arguments[: room - 1] + "…"
    return f"{head}```json\n{arguments}\n```"


class ApprovalButtons(discord.ui.View):
    """Approve and Deny for one request. Never kept in discord.py's view store: the click is
    answered by `answer_approval`, whichever process of this bot receives it."""

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__(timeout=None)
        for verb, label, style in (
            ("approve", "Approve", discord.ButtonStyle.success),
            ("deny", "Deny", discord.ButtonStyle.danger),
        ):
            custom_id = f"{CUSTOM_ID_PREFIX}{verb}:{request.id}:{request.asked_by.id}"
            self.add_item(discord.ui.Button(style=style, label=label, custom_id=custom_id))

    def is_dispatchable(self) -> bool:
        return False
