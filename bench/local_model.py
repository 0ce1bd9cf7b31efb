"""The bundled local model through Parley's engine: start-up, first token, tokens per second.

Run: .venv/bin/python -m bench.local_model [--turns 10]

Each turn is a fresh short conversation (system prompt + one question), as a newcomer's first
messages are; one long thread is measured separately to show what history costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bots.app import Runtime, open_runtime
from core.types import (
    ApprovalRequest,
    ApprovalSettled,
    Author,
    ConversationKey,
    IncomingMessage,
    ToolStep,
    TurnSummary,
)

CONFIG = """\
providers:
  local: {type: llamacpp, context_size: 4096}
personas:
  tiny:
    system_prompt: "You are a helpful assistant. Answer in two or three sentences."
    model: smollm2
    provider: local
    max_tokens: 128
    context_tokens: 4096
bots:
  - {name: parley, platform: console, persona: tiny}
storage: {path: data/parley.db}
"""
QUESTIONS = (
    "What is a good name for a cat?",
    "How do I boil an egg?",
    "Why is the sky blue?",
    "Give me a tip for writing clear emails.",
    "What is Python used for?",
)


class TimingSink:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.done = 0.0
        self.summary: TurnSummary | None = None

    async def say(self, text: str) -> None:
        pass  # benchmarks send questions, never commands

    @property
    def shown(self) -> str:
        return ""

    async def start(self) -> None: ...

    async def append(self, text: str) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.started

    async def finish(self, summary: TurnSummary) -> None:
        self.done = time.perf_counter() - self.started
        self.summary = summary

    async def fail(self, error: Exception) -> None:
        raise SystemExit(f"turn failed: {error}")

    async def step(self, step: ToolStep) -> None:
        pass  # the bench persona has no tools

    async def ask_approval(self, request: ApprovalRequest) -> None:
        raise AssertionError("the bench persona has no tools")

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        raise AssertionError("the bench persona has no tools")


async def turn(runtime: Runtime, thread: str, text: str, n: int) -> TimingSink:
    sink = TimingSink()
    key = ConversationKey("console", "local", "parley", thread)
    message = IncomingMessage("parley", key, Author("u", "Ada"), text, f"m{n}")
    await runtime.engine.handle(message, sink)
    return sink


def rate(sink: TimingSink) -> float:
    usage = sink.summary.usage if sink.summary else None
    generating = sink.done - (sink.first or 0.0)
    return (usage.completion_tokens - 1) / generating if usage and generating > 0 else 0.0


async def main(turns: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "bots.yaml"
        config.write_text(CONFIG)
        async with open_runtime(config) as runtime:
            started = time.perf_counter()
            warm = await turn(runtime, "warm-up", "Hello!", 0)
            print(
                f"first turn incl. server start: {time.perf_counter() - started:.2f} s "
                f"(first token {warm.first or 0:.2f} s)"
            )
            sinks = [
                await turn(runtime, f"t{i}", QUESTIONS[i % len(QUESTIONS)], i) for i in range(turns)
            ]
            firsts = [s.first or 0.0 for s in sinks]
            print(
                f"fresh conversations ({turns}): first token p50 "
                f"{statistics.median(firsts):.3f} s (max {max(firsts):.3f} s), "
                f"generation p50 {statistics.median(rate(s) for s in sinks):.0f} tokens/s"
            )
            for i in range(6):
                long = await turn(runtime, "long", QUESTIONS[i % len(QUESTIONS)], 100 + i)
            usage = long.summary.usage if long.summary else None
            print(
                f"6th turn of one thread ({usage.prompt_tokens if usage else '?'} prompt "
                f"tokens): first token {long.first or 0:.2f} s"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10)
    asyncio.run(main(parser.parse_args().turns))
