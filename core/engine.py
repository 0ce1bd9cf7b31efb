"""The conversation engine: one entry point that turns an incoming message into a streamed reply."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from core.budgets import BudgetLedger
from core.config import BotConfig, Config, LimitsConfig
from core.errors import BudgetExhausted, ParleyError
from core.moderation import Moderation, flag_of
from core.personas import ResolvedPersona
from core.providers import ModelClients
from core.store import Store
from core.text import scrub_message
from core.tokens import Tokenizers
from core.turn import NoObserver, TurnObserver, TurnReport
from core.turn.answer import TurnAnswerer
from core.turn.order import KeyedLocks
from core.turn.prepare import TurnPreparer
from core.types import ConversationKey, IncomingMessage, ReplySink, TurnOutcome

log = logging.getLogger(__name__)


class ConfigSource(Protocol):
    """Anything holding the config in force; a reload swaps the whole object."""

    @property
    def current(self) -> Config: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(
        self,
        *,
        config: ConfigSource,
        store: Store,
        models: ModelClients,
        tokenizers: Tokenizers,
        clock: Callable[[], datetime] = utc_now,
        moderation: Moderation | None = None,
        observer: TurnObserver | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._models = models
        self._tokenizers = tokenizers
        self._clock = clock
        self._locks = KeyedLocks()
        self._observer = observer or NoObserver()
        budgets = BudgetLedger(store, clock)
        moderation = moderation or Moderation()
        self._preparer = TurnPreparer(
            store=store, tokenizers=tokenizers, clock=clock, budgets=budgets, moderation=moderation
        )
        self._answerer = TurnAnswerer(
            store=store,
            models=models,
            tokenizers=tokenizers,
            budgets=budgets,
            moderation=moderation,
            observer=self._observer,
        )

    async def handle(self, message: IncomingMessage, sink: ReplySink) -> TurnOutcome:
        """Answer one message. Never raises for a failed turn: the sink hears about it."""
        message = scrub_message(message)
        async with self._locks.hold(message.key), self._observer.active():
            started = time.monotonic()
            config = self._config.current
            try:
                turn = await self._preparer.prepare(config, message)
            except ParleyError as error:
                level = logging.INFO if isinstance(error, BudgetExhausted) else logging.WARNING
                log.log(level, "turn %s failed before the model call: %s", message.key, error)
                elapsed = time.monotonic() - started
                self._observer.ended(TurnReport(message.bot, "failed", error, elapsed))
                await sink.fail(error)
                return TurnOutcome("failed", "", error=error, flagged=flag_of(error))
            return await self._answerer.answer(config, turn, sink, started)

    async def reset(self, key: ConversationKey) -> int:
        """Forget a conversation's stored history; returns how many messages were deleted."""
        async with self._locks.hold(key):
            return await self._store.forget(key)

    async def knows(self, key: ConversationKey) -> bool:
        """Whether Parley is part of this conversation (it has answered or been seeded in it)."""
        return await self._store.knows(key)

    async def claim(self, scope: str, event_id: str) -> bool:
        """True only the first time an event is seen, across restarts: adapters answer once."""
        return await self._store.ledger.claim_event(scope, event_id)

    async def link(self, key: ConversationKey, message_ids: list[str]) -> None:
        """Ties messages Parley posted to their conversation (see `linked`)."""
        await self._store.link_messages(key, message_ids)

    async def linked(self, platform: str, message_id: str) -> ConversationKey | None:
        """The conversation a message Parley posted belongs to: a reply to it continues it."""
        return await self._store.linked_conversation(platform, message_id)

    async def seen(self, scope: str, event_id: str) -> bool:
        """Whether an event was claimed before (e.g. a command set already synced)."""
        return await self._store.ledger.event_seen(scope, event_id)

    async def may_reset(self, key: ConversationKey, user_id: str, *, admin: bool) -> bool:
        """A thread may be wiped by an admin or by someone who wrote in it."""
        if admin:
            return True
        limit = self._config.current.limits.history_messages
        history = await self._store.recent_messages(key, limit)
        return any(m.role == "user" and m.author_id == user_id for m in history.messages)

    @property
    def limits(self) -> LimitsConfig:
        """The limits in force now; a reload changes them for the next turn."""
        return self._config.current.limits

    def bot(self, name: str) -> BotConfig:
        """The named bot's settings in force now (access lists follow a reload)."""
        return self._config.current.bot(name)

    def persona_for(self, bot_name: str, key: ConversationKey) -> ResolvedPersona:
        """The persona that answers in this conversation now."""
        config = self._config.current
        return self._preparer.persona(config, config.bot(bot_name), key)

    def persona_names(self) -> list[str]:
        return list(self._config.current.personas)

    async def choose_persona(
        self,
        bot_name: str,
        key: ConversationKey,
        persona: str | None,
        *,
        whole_channel: bool,
        chosen_by: str,
    ) -> None:
        """Switch this thread's (or channel's) persona; None returns to bots.yaml's choice."""
        names = self.persona_names()
        if persona is not None and persona not in names:
            message = f"There is no persona called '{persona}'. Choose one of: {', '.join(names)}."
            raise ParleyError(message, user_message=message)
        await self._store.choose_persona(
            bot_name, key, persona, whole_channel=whole_channel, chosen_by=chosen_by
        )
