"""A reply's tool exchange as stored with it: each round's calls, their state and results.

Kept as JSON in the reply's row (`messages.tools`), written before a call runs and after it
ends, so a killed process leaves every started call on record: it is never run again, and
later turns replay the calls and their results to the model in order.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

from core.tools.calls import ToolCall
from core.types import PromptMessage

CallState = Literal["waiting", "running", "ok", "failed", "denied", "interrupted"]
_STATES = frozenset(get_args(CallState))

# What the model reads for calls that never gave a result; a replayed call must have one.
# Said of every way a turn ends early (a stop, a deadline, a restart): the model must not be
# told Parley restarted when a deadline passed.
INTERRUPTED_RESULT = (
    "interrupted: the turn ended (stopped, timed out or restarted) while this tool was "
    "running; it may or may not have finished, and it was not run again"
)
RESTARTED_WAITING_RESULT = (
    "denied: the turn ended (stopped, timed out or restarted) while this call waited for approval"
)
UNANSWERED_RESULT = "not run: the turn ended before this call"


@dataclass(slots=True)
class CallRecord:
    """One call the model asked for. `name` is the function name as the model wrote it."""

    id: str
    name: str
    arguments: str
    state: CallState = "running"
    result: str = ""  # what the model was given (already cut to the limit)
    seconds: float | None = None
    by: str = ""  # who approved or denied it

    @property
    def call(self) -> ToolCall:
        return ToolCall(self.id, self.name, self.arguments)


@dataclass(slots=True)
class RoundRecord:
    """One model round that asked for tools: the text it said first, then its calls."""

    text: str
    calls: list[CallRecord] = field(default_factory=list)


@dataclass(slots=True)
class Exchange:
    rounds: list[RoundRecord] = field(default_factory=list)

    def to_json(self) -> str:
        return (
            json.dumps([asdict(r) for r in self.rounds], ensure_ascii=False) if self.rounds else ""
        )

    @classmethod
    def from_json(cls, text: str) -> Exchange:
        """The stored exchange; "" (no tools) and anything unreadable give an empty one."""
        try:
            rounds = json.loads(text) if text else []
            return cls([_round(item) for item in rounds])
        except (ValueError, TypeError, KeyError):
            return cls()

    def settle(self) -> None:
        """Calls still running or waiting end as interrupted or denied (the turn stopped)."""
        for round_ in self.rounds:
            for record in round_.calls:
                if record.state == "running":
                    record.state, record.result = "interrupted", INTERRUPTED_RESULT
                elif record.state == "waiting":
                    record.state, record.result = "denied", RESTARTED_WAITING_RESULT

    def prompt_messages(self) -> list[PromptMessage]:
        """The rounds as the model reads them: each asking message, then one result per call."""
        messages: list[PromptMessage] = []
        for round_ in self.rounds:
            calls = tuple(record.call for record in round_.calls)
            messages.append(PromptMessage("assistant", round_.text, tool_calls=calls))
            messages += [
                PromptMessage("tool", _result_of(record), tool_call_id=record.id)
                for record in round_.calls
            ]
        return messages


def settle_unfinished(text: str) -> str:
    """The exchange of a reply a stopped or killed process left: calls it left running are
    marked interrupted (never run again), calls it left waiting for approval denied."""
    exchange = Exchange.from_json(text)
    exchange.settle()
    return exchange.to_json() or text


def restart_note(text: str) -> str:
    """What a thread is told of its calls when Parley starts again after being killed mid-turn
    ("" when no call was left running or waiting)."""
    exchange = Exchange.from_json(text)
    running = [r.name for round_ in exchange.rounds for r in round_.calls if r.state == "running"]
    waiting = [r.name for round_ in exchange.rounds for r in round_.calls if r.state == "waiting"]
    parts = []
    if running:
        parts.append(
            f"{_names(running)} had started and {'was' if len(running) == 1 else 'were'} not "
            "run again (it may or may not have finished)"
        )
    if waiting:
        parts.append(f"the approval for {_names(waiting)} was cancelled, so it did not run")
    if not parts:
        return ""
    return "Parley restarted in the middle of this reply: " + "; ".join(parts) + ". Ask again."


def _names(calls: list[str]) -> str:
    return ", ".join(f"`{unwired(name)}`" for name in calls)


def unwired(name: str) -> str:
    """The tool's "server.tool" name from the function name the model used."""
    server, separator, tool = name.partition("__")
    return f"{server}.{tool}" if separator else name


def _result_of(record: CallRecord) -> str:
    if record.result:
        return record.result
    return {"running": INTERRUPTED_RESULT, "waiting": RESTARTED_WAITING_RESULT}.get(
        record.state, UNANSWERED_RESULT
    )


def _round(item: dict[str, object]) -> RoundRecord:
    calls = item["calls"]
    if not isinstance(calls, list):
        raise TypeError("calls is not a list")
    return RoundRecord(str(item["text"]), [_call(call) for call in calls])


def _call(item: dict[str, object]) -> CallRecord:
    state = str(item.get("state", "failed"))
    seconds = item.get("seconds")
    return CallRecord(
        id=str(item["id"]),
        name=str(item["name"]),
        arguments=str(item.get("arguments", "")),
        state=state if state in _STATES else "failed",  # type: ignore[arg-type]
        result=str(item.get("result", "")),
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
        by=str(item.get("by", "")),
    )
