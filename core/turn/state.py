"""One turn's working state and what derives from it: prompt, usage row, log line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.config import BotConfig, render_template
from core.context import ContextWindow
from core.errors import ParleyError
from core.personas import ResolvedPersona
from core.store import UsageRecord
from core.tools.exchange import Exchange
from core.turn.tool_calls import Toolset
from core.types import IncomingMessage, MessageStatus, Rating, Usage

# The turn line is the engine's: admins filter on that logger name.
log = logging.getLogger("core.engine")


@dataclass(slots=True)
class Turn:
    """Everything one turn needs once the user's message is safely stored."""

    message: IncomingMessage
    bot: BotConfig
    resolved: ResolvedPersona
    window: ContextWindow
    unread: tuple[str, ...]
    assistant_id: int
    reply: list[str] = field(default_factory=list)
    usage: Usage | None = None
    first_token_at: float | None = None
    # Writing the first words the user saw into the row; None until they were shown.
    shown_write: asyncio.Task[None] | None = None
    older_unread: bool = False  # a thread joined late had more before it than was read
    # Usage of the model rounds before this one that asked for tools (already recorded).
    earlier_usage: Usage | None = None
    # The tools this turn may call (None: none), and the calls made so far.
    tools: Toolset | None = None
    exchange: Exchange = field(default_factory=Exchange)


def system_prompt(
    resolved: ResolvedPersona, bot: BotConfig, msg: IncomingMessage, now: datetime
) -> str:
    """The persona's prompt with this turn's real names; times are UTC."""
    values = {
        "bot_name": bot.name,
        "workspace_name": msg.workspace_name,
        "channel_name": msg.channel_name,
        "viewing_channel": msg.viewing_channel,
        "user_name": msg.author.display_name,
        "date": now.strftime("%A %d %B %Y"),
        "time": now.strftime("%H:%M UTC"),
    }
    return render_template(resolved.system_prompt, values)


def added(first: Usage | None, second: Usage | None) -> Usage | None:
    if first is None or second is None:
        return first or second
    return Usage(
        first.prompt_tokens + second.prompt_tokens,
        first.completion_tokens + second.completion_tokens,
        first.cached_tokens + second.cached_tokens,
    )


def turn_usage(turn: Turn) -> Usage | None:
    """Every model round of the turn together."""
    return added(turn.earlier_usage, turn.usage)


def usage_record(turn: Turn, usage: Usage) -> UsageRecord:
    message = turn.message
    return UsageRecord(
        key=message.key,
        bot=turn.bot.name,
        persona=turn.resolved.persona.name,
        model=turn.resolved.persona.model,
        user_id=message.author.id,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        message_id=turn.assistant_id,
    )


def log_turn(turn: Turn, status: str, started: float, error: ParleyError | None) -> None:
    """One line per turn: who, which model, tokens, latency, outcome; never content.

    A turn that ended on an error (failed, or partial because it was cut) is a warning: an
    admin running at the default level must see why a user got a failure note.
    """
    usage = turn_usage(turn) or Usage(0, 0)
    first = f"{turn.first_token_at:.2f}s" if turn.first_token_at is not None else "-"
    log.log(
        logging.WARNING if error is not None else logging.INFO,
        "turn %s bot=%s persona=%s model=%s outcome=%s tokens=%d+%d first_token=%s total=%.2fs%s",
        turn.message.key,
        turn.bot.name,
        turn.resolved.persona.name,
        turn.resolved.persona.model,
        status,
        usage.prompt_tokens,
        usage.completion_tokens,
        first,
        time.monotonic() - started,
        f" error={type(error).__name__}: {error}" if error else "",
        # The same facts as fields, for `logging.format: json`; text output ignores them.
        extra={
            "key": str(turn.message.key),
            "bot": turn.bot.name,
            "persona": turn.resolved.persona.name,
            "model": turn.resolved.persona.model,
            "outcome": status,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "first_token_s": turn.first_token_at,
            "latency_s": round(time.monotonic() - started, 3),
            "error": type(error).__name__ if error else None,
        },
    )


@dataclass(frozen=True, slots=True)
class TurnReport:
    """What one turn did, for metrics and health: names from bots.yaml, never ids or content."""

    bot: str
    status: MessageStatus
    error: ParleyError | None
    seconds: float
    provider: str | None = None  # None: the turn failed before a model was chosen
    model: str | None = None
    first_token: float | None = None
    usage: Usage | None = None


class TurnObserver(Protocol):
    """Hears about every turn the engine handles; `active` spans the turn under its lock."""

    def active(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    def ended(self, report: TurnReport) -> None: ...

    def rated(self, persona: str, rating: Rating) -> None:
        """A user rated a reply of this persona (or changed their rating to this)."""
        ...


class NoObserver:
    """The engine's default: nobody is watching."""

    def active(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    def ended(self, report: TurnReport) -> None:
        pass

    def rated(self, persona: str, rating: Rating) -> None:
        pass


def turn_report(
    turn: Turn, status: MessageStatus, started: float, error: ParleyError | None
) -> TurnReport:
    persona = turn.resolved.persona
    return TurnReport(
        bot=turn.bot.name,
        status=status,
        error=error,
        seconds=time.monotonic() - started,
        provider=persona.provider,
        model=persona.model,
        first_token=turn.first_token_at,
        usage=turn_usage(turn),
    )
