"""The conversation engine: every incoming message enters through `handle`, which decides
what it is (not Parley's, a redelivery, a refusal, a command or a turn) and answers it."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from core import commands as words
from core.blank import is_blank
from core.budgets import BudgetLedger
from core.commands import Commands, parse_command
from core.config import BotConfig, Config
from core.coordination import Coordination, LocalCoordination
from core.errors import BudgetExhausted, ParleyError, StoreError
from core.moderation import Moderation, admin_notice, flag_of
from core.providers import ModelClients
from core.store import Store
from core.text import scrub_message
from core.tokens import Tokenizers
from core.tools.approval_relay import SharedApprovals
from core.tools.approvals import Approvals
from core.tools.calls import ToolHost
from core.turn.answer import TurnAnswerer
from core.turn.lookups import completed
from core.turn.order import ArrivalOrder, Place
from core.turn.prepare import TurnPreparer
from core.turn.receive import Receiver, delivery_claim
from core.turn.state import NoObserver, TurnObserver, TurnReport
from core.turn.tool_calls import TurnTools
from core.types import (
    ApprovalClick,
    ApprovalResult,
    ConversationKey,
    FeedbackClick,
    FeedbackResult,
    Handling,
    IncomingMessage,
    ModerationFlag,
    ReplySink,
    TurnOutcome,
)

log = logging.getLogger(__name__)


class ConfigSource(Protocol):
    """Anything holding the config in force; a reload swaps the whole object."""

    @property
    def current(self) -> Config: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def _skipped(handled_as: Handling) -> TurnOutcome:
    return TurnOutcome("complete", "", handled_as=handled_as)


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
        tools: ToolHost | None = None,
        coordination: Coordination | None = None,
    ) -> None:
        self._coordination = coordination or LocalCoordination("")
        self._config = config
        self._store = store
        self._tokenizers = tokenizers
        self._order = ArrivalOrder()
        self._observer = observer or NoObserver()
        self._commands = Commands(store)
        self._receiver = Receiver(store)
        budgets = BudgetLedger(store, clock)
        self._approvals = SharedApprovals(Approvals(clock), self._coordination)
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
            tools=TurnTools(tools, self._approvals),
        )

    async def handle(self, message: IncomingMessage, reply: ReplySink) -> TurnOutcome:
        """Answer one message, at most once per delivery. Never raises for a failed turn:
        the reply hears about it."""
        try:
            return await self._handle(message, reply)
        except StoreError as error:
            # A full disk or a locked file: the turn ends here, the bot lives on.
            log.error("turn %s failed: %s", message.key, error)
            self._observer.ended(TurnReport(message.bot, "failed", error, 0.0))
            with contextlib.suppress(ParleyError):
                await reply.fail(error)
            return TurnOutcome("failed", "", error=error)

    async def _handle(self, message: IncomingMessage, reply: ReplySink) -> TurnOutcome:
        async with self._order.place(message.key) as place:
            config = self._config.current
            try:
                bot = config.bot(message.bot)
            except KeyError:
                # A reload removed the bot while its adapter still runs.
                error = ParleyError(f"no bot named {message.bot!r} in {config.source}")
                log.warning("turn %s: %s", message.key, error)
                await reply.fail(error)
                return TurnOutcome("failed", "", error=error, handled_as="ignored")
            message = scrub_message(await self._followed(message))
            if message.from_bot and not _answers_bots(bot):
                return _skipped("ignored")  # two assistants must never keep answering each other
            if not message.addressed:
                await place.stored()  # the message before it may be what makes it Parley's
                if not await self._store.knows(message.key):
                    return _skipped("ignored")
            if not message.allowed:
                if await self._first_delivery(bot, message) and _refuses(bot):
                    await reply.say(words.REFUSAL)
                return _skipped("refused")
            command = message.command or parse_command(message.text)
            blank = is_blank(message.text) and not message.attachments
            if blank and not message.addressed:
                return _skipped("ignored")  # a sticker or an emoji-only follow-up
            if command is not None or blank:
                if not await self._first_delivery(bot, message):
                    return _skipped("duplicate")
                place.mark_stored()  # nothing to store: the line behind it need not wait
                if command is not None and command.name == "reset":
                    await self._withdraw_approvals(config, message)
                await place.answerable()  # after the turns before it: reset waits for them
                text = words.GREETING
                if command is not None:
                    async with self._store.turn(message.key):  # and for other replicas' turns
                        text = await self._commands.run(config, bot, message, command)
                await reply.say(text)
                return _skipped("command")
            return await self._turn(config, bot, message, reply, place)

    async def _withdraw_approvals(self, config: Config, message: IncomingMessage) -> None:
        """A reset waits for the thread's turns; a turn waiting on an Approve click could
        hold it for `approval_seconds`, so its requests count as denied by whoever reset."""
        if await self._commands.may_reset(config, message):
            await self._approvals.withdraw(message.key, message.author.display_name)

    async def _turn(
        self,
        config: Config,
        bot: BotConfig,
        message: IncomingMessage,
        reply: ReplySink,
        place: Place,
    ) -> TurnOutcome:
        resolved = self._preparer.persona(config, bot, message.key)
        count = functools.partial(self._tokenizers.measure, resolved.persona.model)
        await place.stored()
        arrival, older_unread = await self._receiver.receive(config, bot, message, count)
        place.mark_stored()
        if arrival is None:
            log.info("turn %s: %s answered before, skipping it", message.key, message.delivery)
            return _skipped("duplicate")
        try:
            await place.answerable()
            async with self._store.turn(message.key, arrival.reply_id), self._observer.active():
                started = time.monotonic()
                try:
                    stored_name = message.author.display_name
                    message = await completed(message, config.limits)
                    turn = await self._preparer.prepare(
                        config, bot, resolved, message, arrival, stored_name
                    )
                except ParleyError as error:
                    return await self._refused(message, reply, error, started)
                turn.older_unread = older_unread
                outcome = await self._answerer.answer(config, turn, reply, started)
        finally:
            self._receiver.ended(arrival)
        return _with_notice(outcome, message)

    async def _refused(
        self, message: IncomingMessage, reply: ReplySink, error: ParleyError, started: float
    ) -> TurnOutcome:
        level = logging.INFO if isinstance(error, BudgetExhausted) else logging.WARNING
        log.log(level, "turn %s failed before the model call: %s", message.key, error)
        self._observer.ended(TurnReport(message.bot, "failed", error, time.monotonic() - started))
        await reply.fail(error)
        outcome = TurnOutcome("failed", "", error=error, flagged=flag_of(error))
        return _with_notice(outcome, message)

    async def _followed(self, message: IncomingMessage) -> IncomingMessage:
        """A reply to one of Parley's own messages continues that message's conversation."""
        if not message.reply_to:
            return message
        key = await self._store.linked_conversation(message.key.platform, message.reply_to)
        if key is None:
            return message
        return replace(message, key=key, addressed=True)

    async def _first_delivery(self, bot: BotConfig, message: IncomingMessage) -> bool:
        claim = delivery_claim(bot, message)
        if claim is None:
            return True
        return await self._store.ledger.claim_event(claim.scope, claim.delivery)

    # What an adapter needs besides `handle` (see core.types.Conversations).

    def bot(self, name: str) -> BotConfig:
        return self._config.current.bot(name)

    def persona_names(self) -> list[str]:
        return list(self._config.current.personas)

    @property
    def coordination(self) -> Coordination:
        return self._coordination

    async def link(self, message: IncomingMessage, posted: list[str]) -> None:
        followed = await self._followed(message)
        await self._store.link_messages(followed.key, posted)

    async def seen(self, scope: str, value: str) -> bool:
        return await self._store.ledger.event_seen(scope, value)

    async def record(self, scope: str, value: str) -> None:
        await self._store.ledger.claim_event(scope, value)

    async def approve(self, click: ApprovalClick) -> ApprovalResult:
        result = await self._approvals.click(click)
        log.info(
            "approval %s in %s:%s/%s: %s by %s",
            *(click.approval_id, click.platform, click.workspace, click.channel),
            result, click.user_id,
        )  # fmt: skip
        return result

    async def feedback(self, click: FeedbackClick) -> FeedbackResult:
        config = self._config.current

        def persona_of(bot_name: str, key: ConversationKey) -> tuple[str, str]:
            # Only for a reply whose usage is not recorded yet: who answers there now.
            try:
                bot = config.bot(bot_name)
            except KeyError:
                return "", ""  # a reload removed the bot; the rating still counts for it
            persona = self._preparer.persona(config, bot, key).persona
            return persona.name, persona.model

        try:
            result, persona = await self._store.feedback.rate(click, persona_of)
        except StoreError as error:
            log.warning("feedback on reply %s not stored: %s", click.reply_id, error)
            return "failed"
        if result == "unknown":
            log.info(
                "feedback on reply %s in %s:%s/%s ignored: no reply of bot %s is stored there",
                *(click.reply_id, click.platform, click.workspace, click.channel, click.bot),
            )
        elif result in ("stored", "changed"):
            self._observer.rated(persona, click.rating)
        return result


def _answers_bots(bot: BotConfig) -> bool:
    return bot.answer_bots


def _refuses(bot: BotConfig) -> bool:
    return bot.on_denied == "refuse"


def _with_notice(outcome: TurnOutcome, message: IncomingMessage) -> TurnOutcome:
    """Moderation's note for the admins: who and where, never what."""
    flag: ModerationFlag | None = outcome.flagged
    if flag is None:
        return outcome
    who = f"{message.author.display_name} ({message.author.id})"
    where = f"{message.channel_name or message.key.channel} (conversation {message.key})"
    return replace(outcome, admin_notice=admin_notice(flag, who=who, where=where, bot=message.bot))
