"""Answering a prepared turn: the model's stream into the sink, then the stored outcome."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import replace

from core.budgets import BudgetLedger
from core.config import Config
from core.context import INTERRUPTED_MARKER, prompt_tokens_of, replay_text, reply_turns
from core.errors import (
    ContentFlagged,
    NoAnswerAfterTools,
    ParleyError,
    ReplyTimedOut,
    ShutDown,
    StoppedByUser,
    StoreError,
)
from core.model_events import ReplyEnded, TextDelta, ToolCallsRequested
from core.model_request import request_for
from core.moderation import Moderation, flag_of
from core.providers import ModelClients
from core.store import Store
from core.tokens import Tokenizers
from core.tools.calls import ToolCall, ToolSpec
from core.turn.ending import Ending, summary_of, usage_after_end
from core.turn.limits import prompt_fits, within_limits
from core.turn.rows import SHUT_DOWN
from core.turn.shown import first_words_kept, first_words_written, show_text
from core.turn.state import Turn, TurnObserver, added, log_turn, turn_report, usage_record
from core.turn.tool_calls import RoundRunner, Toolset, TurnTools
from core.types import (
    STOPPED_BY_USER,
    MessageStatus,
    PromptMessage,
    ReplySink,
    TurnOutcome,
    Usage,
)

_Timing = tuple[float, Ending]  # when the turn started; how its reply ended

# Long enough for one post or edit; a shutdown must not wait on a platform that is down.
SHUTDOWN_NOTICE_SECONDS = 2.0

# The turn's lines are the engine's: admins filter on that logger name.
log = logging.getLogger("core.engine")


class TurnAnswerer:
    """The second half of a turn: everything from the model call on."""

    def __init__(
        self,
        *,
        store: Store,
        models: ModelClients,
        tokenizers: Tokenizers,
        budgets: BudgetLedger,
        moderation: Moderation,
        observer: TurnObserver,
        tools: TurnTools,
    ) -> None:
        self._tools = tools
        self._store = store
        self._models = models
        self._tokenizers = tokenizers
        self._budgets = budgets
        self._moderation = moderation
        self._observer = observer

    async def answer(
        self, config: Config, turn: Turn, sink: ReplySink, started: float
    ) -> TurnOutcome:
        """Streams the reply into the sink and stores it; never raises for a failed turn."""
        error: ParleyError | None = None
        ending = Ending()
        try:
            await sink.start()
            await self._stream(config, turn, sink, started, ending)
        except ParleyError as failure:
            error = failure
        except Exception as crash:
            # A bug or an adapter that failed to post: the turn ends, the bot lives on.
            log.exception("turn %s crashed while streaming", turn.message.key)
            error = ParleyError(f"{type(crash).__name__}: {crash}")
        except asyncio.CancelledError as cancelled:
            if ending.sink_finished:
                # The user has the whole reply; only its usage figures were still coming.
                self._report(turn, await self._after_early_finish(turn, ending), started)
                raise
            # Stopped from outside (the user, or a shutdown whose wait ran out): the row and
            # the thread both say so before the cancellation goes on.
            cut = _cut_by(cancelled)
            outcome = await self._recorded(turn, cut)
            with contextlib.suppress(ParleyError, TimeoutError):
                async with asyncio.timeout(SHUTDOWN_NOTICE_SECONDS):
                    await sink.fail(cut)
            outcome = await self._unless_unseen(turn, outcome, sink)
            self._report(turn, outcome, started)
            raise
        if ending.sink_finished:
            outcome = await self._after_early_finish(turn, ending)
        else:
            outcome = await self._deliver(turn, sink, await self._recorded(turn, error))
        # Reported once the platform has taken it (or not): the log line, the metrics and
        # the stored row agree on the outcome.
        self._report(turn, outcome, started)
        return outcome

    async def _deliver(self, turn: Turn, sink: ReplySink, outcome: TurnOutcome) -> TurnOutcome:
        try:
            if outcome.error is not None:
                await sink.fail(outcome.error)
            else:
                await sink.finish(outcome.summary)
        except ParleyError as undelivered:
            return await self._refused(turn, outcome, undelivered)
        except Exception:
            log.exception("turn %s: the reply could not be finished", turn.message.key)
        return await self._unless_unseen(turn, outcome, sink)

    async def _refused(
        self, turn: Turn, outcome: TurnOutcome, undelivered: ParleyError
    ) -> TurnOutcome:
        # The adapter has said why in its own words; a traceback would add nothing. A
        # reply that fails here becomes the turn's error, which the turn's own warning
        # line carries: this line is a warning only when nothing else will say it.
        unsaid = outcome.status == "failed"
        log.log(
            logging.WARNING if unsaid else logging.INFO,
            "turn %s: the reply could not be finished: %s",
            turn.message.key,
            undelivered,
        )
        if unsaid:
            return outcome
        return await self._undelivered(turn, outcome, undelivered)

    async def _finish_early(self, turn: Turn, sink: ReplySink, ending: Ending) -> None:
        """The final edit as soon as the model has ended the reply: before its usage figures
        and before it is stored. Not when the store has refused this turn's first words: a
        store that cannot take the reply fails the turn, and the user hears so."""
        if not await first_words_kept(turn):
            return
        ending.sink_finished = True
        try:
            await sink.finish(summary_of(turn))
        except ParleyError as undelivered:
            ending.undelivered = undelivered
        except Exception:
            log.exception("turn %s: the reply could not be finished", turn.message.key)

    async def _after_early_finish(self, turn: Turn, ending: Ending) -> TurnOutcome:
        """Stores a reply finished early: whole, as the model ended it, unless the platform
        refused it. A store that fails now can no longer be told to the user; the turn's
        log line says it."""
        outcome = await self._recorded(turn, None)
        if ending.undelivered is None:
            return outcome
        return await self._refused(turn, outcome, ending.undelivered)

    async def _unless_unseen(
        self, turn: Turn, outcome: TurnOutcome, sink: ReplySink
    ) -> TurnOutcome:
        """A partial reply the platform never showed (refused from its first word, or cut
        before it) is no one's history: stored failed instead."""
        if outcome.status == "partial" and outcome.error is not None and not sink.shown:
            return await self._undelivered(turn, outcome, outcome.error)
        return outcome

    def _report(self, turn: Turn, outcome: TurnOutcome, started: float) -> None:
        log_turn(turn, outcome.status, started, outcome.error)
        self._observer.ended(turn_report(turn, outcome.status, started, outcome.error))

    async def _undelivered(
        self, turn: Turn, outcome: TurnOutcome, undelivered: ParleyError
    ) -> TurnOutcome:
        """A reply the platform never showed whole is not history the user knows of: kept for
        the record, but as failed, so no later turn replays it. A model error that cut the
        reply stays the turn's error; the row says why the rest never showed."""
        await self._store.update_message(
            turn.assistant_id,
            content=outcome.reply,
            status="failed",
            token_count=0,
            error=f"not delivered: {undelivered}",
        )
        return replace(outcome, status="failed", error=outcome.error or undelivered)

    async def _stream(
        self, config: Config, turn: Turn, sink: ReplySink, started: float, ending: Ending
    ) -> None:
        turn.tools = await self._tools.for_turn(config, turn.resolved)
        if turn.tools is None:
            await self._round(config, turn, sink, (started, ending), turn.window.messages, ())
            return
        seconds = config.limits.tool_turn_seconds
        try:
            async with asyncio.timeout(seconds):
                await self._rounds(config, turn, sink, (started, ending), turn.tools)
        except TimeoutError as late:
            raise ReplyTimedOut(
                f"the turn did not end within {seconds:g}s (limits.tool_turn_seconds)"
            ) from late

    async def _rounds(
        self, config: Config, turn: Turn, sink: ReplySink, timing: _Timing, tools: Toolset
    ) -> None:
        """Model rounds until one answers in text; the last one is offered no tools."""
        runner = RoundRunner(self._store, tools, turn.message, turn.exchange)
        messages = turn.window.messages
        rounds = config.limits.tool_rounds
        for number in range(rounds + 1):
            offered = tuple(tools.specs.values()) if number < rounds else ()
            said_before = len(turn.reply)
            calls = await self._round(config, turn, sink, timing, messages, offered)
            if not calls:
                return
            await self._between_rounds(config, turn)
            said = "".join(turn.reply[said_before:])
            messages += tuple(await runner.run(turn.assistant_id, sink, said, calls))
            await prompt_fits(turn.resolved.persona, messages, self._tokenizers)

    async def _between_rounds(self, config: Config, turn: Turn) -> None:
        """The round's cost counted now, so a budget it used up stops the next round."""
        if turn.usage is not None:
            record = usage_record(turn, turn.usage)
            await self._store.record_usage(record)
            self._budgets.spent(record)
            turn.earlier_usage, turn.usage = added(turn.earlier_usage, turn.usage), None
        await self._budgets.check(config, turn.message)

    async def _round(
        self,
        config: Config,
        turn: Turn,
        sink: ReplySink,
        timing: _Timing,
        messages: tuple[PromptMessage, ...],
        offered: tuple[ToolSpec, ...],
    ) -> tuple[ToolCall, ...]:
        """One model call streamed to the user; the calls it asked for, if it did."""
        started, ending = timing
        persona = turn.resolved.persona
        client = self._models.get(config.providers[persona.provider])
        request = request_for(persona, messages, offered)
        said_before = len(turn.reply)
        show = functools.partial(show_text, self._store, turn, sink)
        # aclosing: if the sink fails mid-stream, or a deadline or the cap ends the reply,
        # the HTTP response is released at once.
        async with (
            contextlib.aclosing(client.stream(request)) as model_events,
            contextlib.aclosing(
                within_limits(model_events, config.limits, persona.max_tokens)
            ) as events,
            self._moderation.output_gate(config, persona, turn.message.key, show) as gate,
        ):
            ended = False
            calls: tuple[ToolCall, ...] = ()
            async for event in events:
                if isinstance(event, TextDelta):
                    if turn.first_token_at is None:
                        turn.first_token_at = time.monotonic() - started
                    await gate.feed(event.text)
                elif isinstance(event, ToolCallsRequested):
                    calls = event.calls if offered else ()
                elif isinstance(event, ReplyEnded):
                    ended = True
                    break
                else:
                    turn.usage = event
            await gate.finish()
            if calls:
                await usage_after_end(events, turn)
                return calls
            if ended and turn.exchange.rounds and not "".join(turn.reply[said_before:]).strip():
                # Also the last round, offered no tools, asking for them anyway.
                await usage_after_end(events, turn)
                raise NoAnswerAfterTools("the model ended a round after tool calls without text")
            if ended:
                await self._finish_early(turn, sink, ending)
                await usage_after_end(events, turn)
        return ()

    async def _recorded(self, turn: Turn, error: ParleyError | None) -> TurnOutcome:
        """The outcome as stored; a store that cannot take it (a full disk) fails the turn,
        and the user hears so, rather than the error escaping the turn."""
        try:
            return await self._finish(turn, error)
        except StoreError as unsaved:
            return TurnOutcome("failed", "".join(turn.reply), error=unsaved)

    async def _finish(self, turn: Turn, error: ParleyError | None) -> TurnOutcome:
        reply = "".join(turn.reply)
        status: MessageStatus = "complete" if error is None else "partial" if reply else "failed"
        if isinstance(error, ContentFlagged):
            status = "failed"  # what was shown stays on record; no later turn replays it
        model = turn.resolved.persona.model
        reply_tokens = self._tokenizers.measure(model, reply) if reply else 0
        tools = None
        if turn.exchange.rounds:
            turn.exchange.settle()  # a cut turn's calls never run again
            tools = turn.exchange.to_json()
            replayed = replay_text(reply_turns(reply, status == "complete", turn.exchange))
            reply_tokens = self._tokenizers.measure(model, replayed)
        if turn.usage is None and turn.earlier_usage is None and reply:
            # Some servers never report usage; Parley's own exact counts keep accounting
            # and budgets from seeing the turn as free (the tokenizer may need loading).
            # Not after a tool round was counted: the whole prompt and reply again would
            # count that round twice.
            turn.usage = await asyncio.to_thread(self._counted_usage, model, turn, reply)
        usage = usage_record(turn, turn.usage) if turn.usage else None
        await first_words_written(turn)
        if status == "partial" and tools is None:
            # Counted as it will be replayed, marker included.
            reply_tokens = self._tokenizers.measure(model, reply + INTERRUPTED_MARKER)
        await self._store.update_message(
            turn.assistant_id,
            content=reply,
            status=status,
            token_count=reply_tokens,
            error=str(error) if error else "",
            usage=usage,
            tools=tools,
        )
        if usage is not None:
            self._budgets.spent(usage)
        return TurnOutcome(status, reply, summary_of(turn), error, flag_of(error))

    def _counted_usage(self, model: str, turn: Turn, reply: str) -> Usage:
        prompt = prompt_tokens_of(turn.window.messages, model, self._tokenizers)
        return Usage(prompt, self._tokenizers.count(model, reply), 0)


def _cut_by(cancelled: asyncio.CancelledError) -> ParleyError:
    """Who stopped the turn. A user's stop does not start "interrupted": a redelivery of the
    message must not answer what the user chose to stop."""
    if cancelled.args == (STOPPED_BY_USER,):
        return StoppedByUser(STOPPED_BY_USER)
    return ShutDown(SHUT_DOWN)
