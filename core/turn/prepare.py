"""Getting a turn ready: persona, history, budgets, moderation, the fitted context."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from core.attachments import render_input
from core.budgets import BudgetLedger
from core.config import BotConfig, Config, PersonaConfig
from core.context import ContextRequest, ContextWindow, build_context, user_turn
from core.errors import ContentFlagged, ParleyError
from core.moderation import Moderation
from core.personas import ResolvedPersona, resolve_persona
from core.store import NewMessage, Store
from core.tokens import Tokenizers
from core.turn.rows import prior_rows, reply_placeholder, user_row
from core.turn.state import Turn, system_prompt
from core.types import ConversationKey, IncomingMessage

# Below this many characters, fitting the context costs less than a hop to a worker thread.
_INLINE_CONTEXT_CHARS = 20_000


class TurnPreparer:
    """The first half of a turn, up to the model call."""

    def __init__(
        self,
        *,
        store: Store,
        tokenizers: Tokenizers,
        clock: Callable[[], datetime],
        budgets: BudgetLedger,
        moderation: Moderation,
    ) -> None:
        self._store = store
        self._tokenizers = tokenizers
        self._clock = clock
        self._budgets = budgets
        self._moderation = moderation

    def persona(self, config: Config, bot: BotConfig, key: ConversationKey) -> ResolvedPersona:
        """Who answers in this conversation: a choice made in chat, else bots.yaml's."""
        chosen = self._store.chosen_persona(bot.name, key)
        return resolve_persona(config, bot, key.workspace, key.channel, chosen)

    async def prepare(self, config: Config, message: IncomingMessage) -> Turn:
        """Everything the model call needs, with the user's message stored; raises a
        ParleyError (the message still stored) when the turn may not go on."""
        try:
            bot = config.bot(message.bot)
        except KeyError as unknown:
            raise ParleyError(f"no bot named {message.bot!r} in {config.source}") from unknown
        resolved = self.persona(config, bot, message.key)
        persona = resolved.persona
        rendered = render_input(
            message.text,
            message.attachments,
            text_limit=config.limits.attachment_chars,
            vision=persona.vision,
        )
        count = functools.partial(self._tokenizers.count, persona.model)
        if message.prior and not await self._store.knows(message.key):
            await self._store.add_messages(message.key, prior_rows(message, count))
        history = await self._store.recent_messages(message.key, config.limits.history_messages)
        request = ContextRequest(
            model=persona.model,
            system_prompt=system_prompt(resolved, bot, message, self._clock()),
            examples=persona.examples,
            history=history.messages,
            history_has_older=history.more_before,
            new_turn=user_turn(message.author.display_name, rendered.text),
            new_images=rendered.images,
            budget=persona.context_tokens - persona.max_tokens,
        )
        user = user_row(message, rendered, count)
        window = await self._admit(config, persona, message, user, request, rendered.text)
        # Stored before the model is called, in one transaction: whatever happens next, the
        # user's words are kept, and the reply's row says "partial" until it completes.
        placeholder = reply_placeholder(bot.name)
        _, assistant_id = await self._store.add_messages(message.key, [user, placeholder])
        return Turn(message, bot, resolved, window, rendered.unread, assistant_id)

    async def _admit(
        self,
        config: Config,
        persona: PersonaConfig,
        message: IncomingMessage,
        user: NewMessage,
        request: ContextRequest,
        text: str,
    ) -> ContextWindow:
        """The turn's context once budgets and moderation let it through.

        A refused message is still stored: the thread's record stays whole.
        """
        try:
            await self._budgets.check(config, message)
            window = await self._fit(request)
        except ParleyError:
            await self._store.add_messages(message.key, [user])
            raise
        try:
            await self._moderation.check_input(config, persona, message.key, text)
        except ContentFlagged as flagged:
            # Kept as "failed", so no later turn replays it to the model.
            failed = replace(user, status="failed", error=str(flagged))
            await self._store.add_messages(message.key, [failed])
            raise
        return window

    async def _fit(self, request: ContextRequest) -> ContextWindow:
        # Counting a long paste takes milliseconds: off the event loop, so other
        # conversations keep streaming. Short turns are cheaper than the thread hop.
        if len(request.new_turn) + len(request.system_prompt) < _INLINE_CONTEXT_CHARS:
            return build_context(request, self._tokenizers)
        return await asyncio.to_thread(build_context, request, self._tokenizers)
