"""The conversation engine: one entry point that turns an incoming message into a streamed reply."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from core.attachments import render_input
from core.budgets import BudgetLedger
from core.config import BotConfig, Config, LimitsConfig, PersonaConfig
from core.context import (
    INTERRUPTED_MARKER,
    ContextRequest,
    ContextWindow,
    build_context,
    user_turn,
)
from core.errors import BudgetExhausted, ContentFlagged, ParleyError
from core.llm import ModelRequest, TextDelta
from core.locks import KeyedLocks
from core.moderation import Moderation, flag_of
from core.personas import ResolvedPersona, resolve_persona
from core.providers import ModelClients
from core.rows import prior_rows, reply_placeholder, user_row
from core.store import NewMessage, Store
from core.text import scrub, scrub_message
from core.tokens import Tokenizers
from core.turn import (
    NoObserver,
    Turn,
    TurnObserver,
    TurnReport,
    log_turn,
    system_prompt,
    turn_report,
    usage_record,
)
from core.types import (
    ConversationKey,
    IncomingMessage,
    MessageStatus,
    ReplySink,
    TurnOutcome,
    TurnSummary,
    Usage,
)

log = logging.getLogger(__name__)

# Below this many characters, fitting the context costs less than a hop to a worker thread.
_INLINE_CONTEXT_CHARS = 20_000


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
        self._budgets = BudgetLedger(store, clock)
        self._moderation = moderation or Moderation()
        self._observer = observer or NoObserver()

    async def handle(self, message: IncomingMessage, sink: ReplySink) -> TurnOutcome:
        """Answer one message. Never raises for a failed turn: the sink hears about it."""
        message = scrub_message(message)
        async with self._locks.hold(message.key), self._observer.active():
            started = time.monotonic()
            try:
                turn = await self._prepare(self._config.current, message)
            except ParleyError as error:
                level = logging.INFO if isinstance(error, BudgetExhausted) else logging.WARNING
                log.log(level, "turn %s failed before the model call: %s", message.key, error)
                elapsed = time.monotonic() - started
                self._observer.ended(TurnReport(message.bot, "failed", error, elapsed))
                await sink.fail(error)
                return TurnOutcome("failed", "", error=error, flagged=flag_of(error))
            return await self._answer(turn, sink, started)

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
        chosen = self._store.chosen_persona(bot_name, key)
        return resolve_persona(config, config.bot(bot_name), key.workspace, key.channel, chosen)

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

    async def _prepare(self, config: Config, message: IncomingMessage) -> Turn:
        try:
            bot = config.bot(message.bot)
        except KeyError as unknown:
            raise ParleyError(f"no bot named {message.bot!r} in {config.source}") from unknown
        chosen = self._store.chosen_persona(bot.name, message.key)
        resolved = resolve_persona(config, bot, message.key.workspace, message.key.channel, chosen)
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

    async def _answer(self, turn: Turn, sink: ReplySink, started: float) -> TurnOutcome:
        error: ParleyError | None = None
        try:
            await sink.start()
            await self._stream(turn, sink, started)
        except ParleyError as failure:
            error = failure
        except Exception as crash:
            # A bug or an adapter that failed to post: the turn ends, the bot lives on.
            log.exception("turn %s crashed while streaming", turn.message.key)
            error = ParleyError(f"{type(crash).__name__}: {crash}")
        except asyncio.CancelledError:
            await self._finish(turn, started, ParleyError("interrupted by shutdown"))
            raise
        outcome = await self._finish(turn, started, error)
        try:
            if error is not None:
                await sink.fail(error)
            else:
                await sink.finish(outcome.summary)
        except ParleyError as undelivered:
            # The adapter has said why in its own words; a traceback would add nothing.
            log.warning(
                "turn %s: the reply could not be finished: %s", turn.message.key, undelivered
            )
            if error is None:
                return await self._undelivered(turn, outcome, undelivered)
        except Exception:
            log.exception("turn %s: the reply could not be finished", turn.message.key)
        return outcome

    async def _undelivered(
        self, turn: Turn, outcome: TurnOutcome, undelivered: ParleyError
    ) -> TurnOutcome:
        """A reply the platform never showed whole is not history the user knows of: kept for
        the record, but as failed, so no later turn replays it."""
        await self._store.update_message(
            turn.assistant_id,
            content=outcome.reply,
            status="failed",
            token_count=0,
            error=f"not delivered: {undelivered}",
        )
        return replace(outcome, status="failed", error=undelivered)

    async def _stream(self, turn: Turn, sink: ReplySink, started: float) -> None:
        config = self._config.current
        persona = turn.resolved.persona
        client = self._models.get(config.providers[persona.provider])
        request = ModelRequest(
            model=persona.model,
            messages=turn.window.messages,
            temperature=persona.temperature,
            top_p=persona.top_p,
            max_tokens=persona.max_tokens,
            reasoning_effort=persona.reasoning_effort,
        )
        show = functools.partial(_show, turn, sink)
        # aclosing: if the sink fails mid-stream, the HTTP response is released at once.
        async with (
            contextlib.aclosing(client.stream(request)) as events,
            self._moderation.output_gate(config, persona, turn.message.key, show) as gate,
        ):
            async for event in events:
                if isinstance(event, TextDelta):
                    if turn.first_token_at is None:
                        turn.first_token_at = time.monotonic() - started
                    await gate.feed(event.text)
                else:
                    turn.usage = event
            await gate.finish()

    async def _finish(self, turn: Turn, started: float, error: ParleyError | None) -> TurnOutcome:
        reply = "".join(turn.reply)
        status: MessageStatus = "complete" if error is None else "partial" if reply else "failed"
        if isinstance(error, ContentFlagged):
            status = "failed"  # what was shown stays on record; no later turn replays it
        model = turn.resolved.persona.model
        counted = reply + INTERRUPTED_MARKER if status == "partial" else reply
        if turn.usage is None and reply:
            # Some servers never report usage; Parley's own counts keep accounting and
            # budgets from seeing the turn as free.
            completion = self._tokenizers.count(model, reply)
            turn.usage = Usage(turn.window.prompt_tokens, completion, 0)
        usage = usage_record(turn, turn.usage) if turn.usage else None
        await self._store.update_message(
            turn.assistant_id,
            content=reply,
            status=status,
            token_count=self._tokenizers.count(model, counted) if reply else 0,
            error=str(error) if error else "",
            usage=usage,
        )
        if usage is not None:
            self._budgets.spent(usage)
        summary = TurnSummary(
            dropped_messages=turn.window.dropped_messages,
            older_omitted=turn.window.older_omitted,
            input_truncated=turn.window.input_truncated,
            unread_attachments=turn.unread,
            usage=turn.usage,
        )
        log_turn(turn, status, started, error)
        self._observer.ended(turn_report(turn, status, started, error))
        return TurnOutcome(status, reply, summary, error, flag_of(error))


async def _show(turn: Turn, sink: ReplySink, text: str) -> None:
    """Text reaches the user and the stored reply together: the record is what was shown."""
    text = scrub(text)
    turn.reply.append(text)
    await sink.append(text)
