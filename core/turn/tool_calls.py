"""Running the tool calls of one model round: approval, the call, its result, the record."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from core.config import Config
from core.config.tools import Approval, ToolServerConfig
from core.personas import ResolvedPersona
from core.store import Store
from core.tools.approval_relay import SharedApprovals
from core.tools.calls import JsonValue, ToolCall, ToolHost, ToolResult, ToolSpec, matches
from core.tools.exchange import CallRecord, Exchange, RoundRecord
from core.types import IncomingMessage, PromptMessage, ReplySink, ToolStep

log = logging.getLogger("core.tools")

# What an approval message shows of a call's arguments; the whole call goes to the tool.
PREVIEW_CHARS = 500


@dataclass(frozen=True, slots=True)
class Toolset:
    """What one turn may call: its tools by the name the model knows them by, the servers'
    approval settings, and where calls and approvals go."""

    specs: Mapping[str, ToolSpec]  # by wire name
    servers: Mapping[str, ToolServerConfig]
    host: ToolHost
    approvals: SharedApprovals
    result_chars: int
    approval_seconds: float

    def approval(self, spec: ToolSpec) -> Approval:
        server = self.servers.get(spec.server)
        if server is None:
            return "auto" if spec.read_only else "ask"
        return server.approval_for(spec.tool, spec.read_only)


class TurnTools:
    """The engine's tools: which a turn may call, given its persona and place."""

    def __init__(self, host: ToolHost | None, approvals: SharedApprovals) -> None:
        self.host = host
        self.approvals = approvals

    async def for_turn(self, config: Config, resolved: ResolvedPersona) -> Toolset | None:
        """None when the turn has no tool to offer (none listed, or no server answers)."""
        if self.host is None or not resolved.tools:
            return None
        await self.host.ready()
        specs = {
            spec.wire_name: spec
            for spec in self.host.tools()
            if any(matches(pattern, spec) for pattern in resolved.tools)
        }
        if not specs:
            return None
        limits = config.limits
        return Toolset(
            specs, config.tools, self.host, self.approvals,
            limits.tool_result_chars, limits.approval_seconds,
        )  # fmt: skip


class RoundRunner:
    """Runs each round's calls (in parallel), keeping the reply's exchange on record."""

    def __init__(
        self, store: Store, tools: Toolset, message: IncomingMessage, exchange: Exchange
    ) -> None:
        self._store = store
        self._tools = tools
        self._message = message
        self.exchange = exchange

    async def run(
        self, reply_id: int, sink: ReplySink, text: str, calls: tuple[ToolCall, ...]
    ) -> list[PromptMessage]:
        """The round's messages for the next model call: the asking message, then one
        result per call, in the order the model asked."""
        taken = {record.id for round_ in self.exchange.rounds for record in round_.calls}
        records = []
        for call in calls:
            records.append(CallRecord(_unused(call.id, taken), call.name, call.arguments))
            taken.add(records[-1].id)
        plans = [self._plan(record) for record in records]
        self.exchange.rounds.append(RoundRecord(text, records))
        # On record before anything runs: a kill from here on never runs these again.
        await self._store.record_tools(reply_id, self.exchange.to_json())
        await asyncio.gather(
            *(
                self._settle(reply_id, sink, record, plan)
                for record, plan in zip(records, plans, strict=True)
            )
        )
        return self.exchange.prompt_messages()[-(len(records) + 1) :]

    def _plan(self, record: CallRecord) -> _Plan:
        spec = self._tools.specs.get(record.name)
        if spec is None:
            return _Plan(None, {}, f"there is no tool named {record.name!r}")
        arguments, problem = _arguments(record.arguments)
        if problem:
            return _Plan(spec, {}, problem)
        approval = self._tools.approval(spec)
        if approval == "deny":
            return _Plan(spec, arguments, "denied: an admin does not allow this tool here")
        record.state = "waiting" if approval == "ask" else "running"
        return _Plan(spec, arguments, "")

    async def _settle(
        self, reply_id: int, sink: ReplySink, record: CallRecord, plan: _Plan
    ) -> None:
        name = plan.spec.name if plan.spec is not None else record.name
        started = time.monotonic()
        if plan.spec is None or plan.problem:
            record.state = "denied" if plan.problem.startswith("denied") else "failed"
            record.result = plan.problem
            await sink.step(ToolStep(record.id, name, record.state, 0.0, _short(plan.problem)))
            return
        if record.state == "waiting" and not await self._approved(reply_id, sink, record, name):
            return
        started = time.monotonic()  # the call's own seconds, not the wait for a decision
        await sink.step(ToolStep(record.id, name, "running"))
        result = await self._tools.host.call(plan.spec, plan.arguments)
        record.seconds = round(time.monotonic() - started, 3)
        record.state = "failed" if result.failed else "ok"
        record.result, cut = _fitted(result, self._tools.result_chars)
        # What ran, how it went and how long: admins see that; arguments and results, which
        # may hold anything the users or the tool said, only at debug.
        log.info(
            "turn %s: tool %s %s in %.2fs", self._message.key, name, record.state, record.seconds
        )
        log.debug("tool %s(%s) -> %s", name, record.arguments, record.result)
        await self._store.record_tools(reply_id, self.exchange.to_json())
        note = _short(result.text) if result.failed else ("result cut" if cut else "")
        await sink.step(ToolStep(record.id, name, record.state, record.seconds, note))

    async def _approved(
        self, reply_id: int, sink: ReplySink, record: CallRecord, name: str
    ) -> bool:
        await sink.step(ToolStep(record.id, name, "waiting"))
        message = self._message
        settled = await self._tools.approvals.ask(
            message.bot, message.key, name, _preview(record.arguments), message.author,
            sink, self._tools.approval_seconds,
        )  # fmt: skip
        record.by = settled.by
        if settled.decision == "approved":
            record.state = "running"
            await self._store.record_tools(reply_id, self.exchange.to_json())
            return True
        record.state = "denied"
        record.result = {
            "denied": f"denied by {settled.by}: the user chose not to run it",
            "expired": "denied: nobody approved it in time",
        }.get(settled.decision, "denied: the turn ended before it was approved")
        await self._store.record_tools(reply_id, self.exchange.to_json())
        note = f"denied by {settled.by}" if settled.by else settled.decision
        await sink.step(ToolStep(record.id, name, "denied", None, note))
        return False


@dataclass(frozen=True, slots=True)
class _Plan:
    spec: ToolSpec | None
    arguments: dict[str, JsonValue]
    problem: str  # why it does not run; "" when it may


def _arguments(text: str) -> tuple[dict[str, JsonValue], str]:
    """The call's arguments as an object; the model is told plainly when they are not."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as error:
        return {}, f"the arguments are not valid JSON ({error}); call it again with valid JSON"
    if not isinstance(value, dict):
        return {}, "the arguments must be a JSON object"
    return value, ""


def _unused(call_id: str, taken: set[str]) -> str:
    """The call's id, or a fresh one if the turn has used it: each step line and each result
    is keyed by it (servers that send no id number every round's calls from call_0)."""
    fresh, number = call_id, 1
    while fresh in taken:
        number += 1
        fresh = f"{call_id}_{number}"
    return fresh


def _fitted(result: ToolResult, limit: int) -> tuple[str, bool]:
    text = result.text
    if len(text) <= limit:
        return text, False
    note = f"\n[… cut: the result had {len(text):,} characters; the first {limit:,} are shown]"
    return text[:limit] + note, True


def _preview(arguments: str) -> str:
    try:
        compact = json.dumps(json.loads(arguments), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        compact = arguments
    return compact if len(compact) <= PREVIEW_CHARS else compact[: PREVIEW_CHARS - 1] + "…"


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 120 else line[:119] + "…"
