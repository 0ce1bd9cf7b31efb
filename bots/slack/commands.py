"""Words addressed to Parley itself in a thread: reset, persona, help."""

from __future__ import annotations

from typing import Any

from core.config import SlackBotConfig
from core.engine import Engine
from core.types import ConversationKey

HELP = (
    "Mention me with a question and I'll answer in the thread; after that, just keep "
    "talking in the thread. Say `@Parley reset` to make me forget the thread, "
    "`@Parley persona` to see who I am here."
)


async def command_reply(
    engine: Engine,
    bot: SlackBotConfig,
    key: ConversationKey,
    user: str,
    text: str,
    event: dict[str, Any],
) -> str | None:
    """The reply to a command, or None when `text` is an ordinary message for the model."""
    word = text.strip().lower().rstrip(".!")
    if word in {"reset", "forget"}:
        # In a DM the only person in the conversation may always wipe it.
        admin = user in bot.admins or event.get("channel_type") == "im"
        if await engine.may_reset(key, user, admin=admin):
            forgotten = await engine.reset(key)
            return f"Done: I've forgotten this thread ({forgotten} messages)."
        return "Only the people in this thread, or an admin, can reset it."
    if word == "persona":
        resolved = engine.persona_for(bot.name, key).persona
        return f"Here I'm *{resolved.name}*, answering with `{resolved.model}`."
    if word == "help":
        return HELP
    return None
