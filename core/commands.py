"""Words addressed to Parley itself (reset, persona, help): one rule and one wording for
every platform; adapters render the neutral text."""

from __future__ import annotations

from core.config import BotConfig, Config
from core.errors import ParleyError
from core.personas import ResolvedPersona, resolve_persona
from core.store import Store
from core.types import Command, ConversationKey, IncomingMessage

HELP = (
    "Ask me anything and I'll answer here; in a thread I'm part of, just keep talking. "
    "Say `reset` to make me forget the thread, `persona` to see who I am here, "
    "`help` for this."
)
GREETING = "Hi! Ask me anything. " + HELP.split(". ", 1)[1]
REFUSAL = "Sorry, I'm not available to you here. Ask a Parley admin for access."
RESET_DENIED = "Only the people in this thread, or an admin, can reset it."
SWITCH_DENIED = "Only a Parley admin can switch personas."

_WORDS = {"reset": "reset", "forget": "reset", "persona": "persona", "help": "help"}


def parse_command(text: str) -> Command | None:
    """The command a message's text is, or None for an ordinary message for the model.

    Only the bare word counts ("reset", "/reset", "Reset!"): a question that merely starts
    with it goes to the model.
    """
    word = text.strip().lower().rstrip(".!").removeprefix("/")
    name = _WORDS.get(word)
    if name == "reset":
        return Command("reset")
    if name == "persona":
        return Command("persona")
    return Command("help") if name == "help" else None


class Commands:
    """Runs a command against the store; returns the neutral reply text."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def run(
        self, config: Config, bot: BotConfig, message: IncomingMessage, command: Command
    ) -> str:
        if command.name == "reset":
            return await self._reset(config, message)
        if command.name == "persona":
            return await self._persona(config, bot, message, command)
        return HELP

    async def _reset(self, config: Config, message: IncomingMessage) -> str:
        if not await self.may_reset(config, message):
            return RESET_DENIED
        forgotten = await self._store.forget(message.key)
        return f"Done: I've forgotten this thread ({forgotten} messages)."

    async def may_reset(self, config: Config, message: IncomingMessage) -> bool:
        """A thread may be wiped by an admin or by someone who wrote in it."""
        if message.admin:
            return True
        history = await self._store.recent_messages(message.key, config.limits.history_messages)
        author = message.author.id
        return any(m.role == "user" and m.author_id == author for m in history.messages)

    async def _persona(
        self, config: Config, bot: BotConfig, message: IncomingMessage, command: Command
    ) -> str:
        if command.argument is not None:
            if not message.admin:
                return SWITCH_DENIED
            try:
                await self.choose_persona(config, bot.name, message, command)
            except ParleyError as error:
                return error.user_message
        shown = self.persona_here(config, bot, message.key).persona
        return f"Here I'm **{shown.name}**, answering with `{shown.model}`."

    async def choose_persona(
        self, config: Config, bot_name: str, message: IncomingMessage, command: Command
    ) -> None:
        names = list(config.personas)
        chosen = command.argument or None
        if chosen is not None and chosen not in names:
            text = f"There is no persona called '{chosen}'. Choose one of: {', '.join(names)}."
            raise ParleyError(text, user_message=text)
        await self._store.choose_persona(
            bot_name,
            message.key,
            chosen,
            whole_channel=command.whole_channel,
            chosen_by=message.author.id,
        )

    def persona_here(self, config: Config, bot: BotConfig, key: ConversationKey) -> ResolvedPersona:
        chosen = self._store.chosen_persona(bot.name, key)
        return resolve_persona(config, bot, key.workspace, key.channel, chosen)
