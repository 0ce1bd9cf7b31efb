"""A reply sink that records what the engine told it, for engine tests without a platform."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from core.errors import ParleyError
from core.types import ApprovalRequest, ApprovalSettled, ToolStep, TurnSummary


@dataclass
class RecordingSink:
    events: list[str] = field(default_factory=list)
    text: str = ""
    summary: TurnSummary | None = None
    error: ParleyError | None = None
    said: list[str] = field(default_factory=list)
    appended: asyncio.Event = field(default_factory=asyncio.Event)  # set at each append
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # finish or fail came
    steps: list[ToolStep] = field(default_factory=list)
    asked: list[ApprovalRequest] = field(default_factory=list)
    settled: list[ApprovalSettled] = field(default_factory=list)
    asking: asyncio.Event = field(default_factory=asyncio.Event)  # set at each request

    async def start(self) -> None:
        self.events.append("start")

    async def append(self, text: str) -> None:
        self.events.append("append")
        self.text += text
        self.appended.set()

    async def finish(self, summary: TurnSummary) -> None:
        self.events.append("finish")
        self.summary = summary
        self.ended.set()

    async def fail(self, error: ParleyError) -> None:
        self.events.append("fail")
        self.error = error
        self.ended.set()

    async def say(self, text: str) -> None:
        self.events.append("say")
        self.said.append(text)

    async def step(self, step: ToolStep) -> None:
        self.events.append(f"step {step.name} {step.state}")
        self.steps.append(step)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        self.events.append(f"ask {request.tool}")
        self.asked.append(request)
        self.asking.set()

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        self.events.append(f"settled {settled.request.tool} {settled.decision}")
        self.settled.append(settled)

    @property
    def shown(self) -> str:
        return self.text

    @property
    def endings(self) -> int:
        """How many times the turn was ended: exactly one is the only right answer."""
        return self.events.count("finish") + self.events.count("fail")
