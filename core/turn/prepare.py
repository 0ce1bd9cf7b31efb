"""Getting a turn ready: persona, history, budgets, moderation, the fitted context."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime

from core.attachments import RenderedInput, render_input
from core.budgets import BudgetLedger
from core.config import BotConfig, Config, PersonaConfig
from core.context import ContextRequest, ContextWindow, build_context, fits_uncut, user_turn
from core.errors import ContentFlagged, ParleyError
from core.moderation import Moderation
from core.personas import ResolvedPersona, resolve_persona
from core.store import Store
from core.store.arrivals import Arrival
from core.tokens import Tokenizers
from core.turn.rows import TokenCounter, user_row
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

    async def prepare(
        self,
        config: Config,
        bot: BotConfig,
        resolved: ResolvedPersona,
        message: IncomingMessage,
        arrival: Arrival,
        stored_name: str,
    ) -> Turn:
        """Everything the model call needs; raises a ParleyError (the message stays stored,
        the reply's row says why) when the turn may not go on."""
        persona = resolved.persona
        rendered = render_input(
            message.text,
            message.attachments,
            text_limit=config.limits.attachment_chars,
            vision=persona.vision,
        )
        count = functools.partial(self._tokenizers.measure, persona.model)
        stored_tokens = await self._revise(arrival, message, rendered, stored_name, count)
        history = await self._store.recent_messages(message.key, config.limits.history_messages)
        # Messages that came after this one are stored already; they wait their turn.
        earlier = tuple(m for m in history.messages if m.id < arrival.user_id)
        request = ContextRequest(
            model=persona.model,
            system_prompt=system_prompt(resolved, bot, message, self._clock()),
            examples=persona.examples,
            history=earlier,
            history_has_older=history.more_before,
            new_turn=user_turn(message.author.display_name, rendered.text),
            new_images=rendered.images,
            budget=persona.context_tokens - persona.max_tokens,
            # The stored row names images the model is sent; otherwise it is the same text.
            new_turn_tokens=stored_tokens if rendered.text == rendered.stored_text else None,
        )
        window = await self._admit(config, persona, message, arrival, request, rendered.text)
        return Turn(message, bot, resolved, window, rendered.unread, arrival.reply_id)

    async def _revise(
        self,
        arrival: Arrival,
        message: IncomingMessage,
        rendered: RenderedInput,
        stored_name: str,
        count: TokenCounter,
    ) -> int:
        """The stored row, written before the names and files came in, brought up to date;
        returns its token count."""
        if arrival.first and not message.attachments and message.author.display_name == stored_name:
            return arrival.user_tokens  # stored as it stands, and counted then
        user = user_row(message, rendered, count)
        if message.attachments or user.author_name != stored_name:
            await self._store.revise_message(
                arrival.user_id,
                author_name=user.author_name,
                content=user.content,
                token_count=user.token_count,
            )
        return user.token_count

    async def _admit(
        self,
        config: Config,
        persona: PersonaConfig,
        message: IncomingMessage,
        arrival: Arrival,
        request: ContextRequest,
        text: str,
    ) -> ContextWindow:
        """The turn's context once budgets and moderation let it through.

        A refused message stays stored: the thread's record stays whole; its reply's row
        says why there is no reply.
        """
        try:
            await self._budgets.check(config, message)
            window = await self._fit(request)
            await self._moderation.check_input(config, persona, message.key, text)
        except ContentFlagged as flagged:
            # Kept as "failed", so no later turn replays it to the model.
            await self._store.update_message(
                arrival.user_id,
                content=message.text,
                status="failed",
                token_count=0,
                error=str(flagged),
            )
            await self._refused(arrival, flagged)
            raise
        except ParleyError as refused:
            await self._refused(arrival, refused)
            raise
        return window

    async def _refused(self, arrival: Arrival, error: ParleyError) -> None:
        await self._store.update_message(
            arrival.reply_id, content="", status="failed", token_count=0, error=str(error)
        )

    async def _fit(self, request: ContextRequest) -> ContextWindow:
        window = fits_uncut(request, self._tokenizers)
        if window is not None:
            return window
        # Loading a tokenizer takes about a second and counting a long paste milliseconds:
        # off the event loop, so other conversations keep streaming. Short turns are
        # cheaper than the thread hop.
        short = len(request.new_turn) + len(request.system_prompt) < _INLINE_CONTEXT_CHARS
        if short and self._tokenizers.loaded(request.model):
            return build_context(request, self._tokenizers)
        return await asyncio.to_thread(build_context, request, self._tokenizers)
