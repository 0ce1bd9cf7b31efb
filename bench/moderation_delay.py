"""How much moderation delays the first text a user sees, against the fake OpenAI server.

Run: .venv/bin/python -m bench.moderation_delay [--turns 5] [--check-delay 0.0]

The fake streams a 600-character reply in 4-character chunks every 20 ms (about 50 tokens a
second, a realistic model); `--check-delay` makes each moderation answer that much slower
(OpenAI's takes roughly 0.1-0.3 s). "First text" is from `Engine.handle` being called to the
sink's first `append`, the moment the user sees something.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bots import event_loop
from bots.app import open_runtime
from core.errors import ParleyError
from core.types import (
    ApprovalRequest,
    ApprovalSettled,
    Author,
    ConversationKey,
    IncomingMessage,
    ToolStep,
    TurnSummary,
)
from tests.fakes.openai_server import FakeOpenAI, Script

CONFIG = """\
providers:
  fake: {{base_url: "{base_url}", timeout: 10, max_retries: 0}}
personas:
  plain: {{system_prompt: "Hi.", model: gpt-4o-mini, provider: fake}}
  input_checked: {{system_prompt: "Hi.", model: gpt-4o-mini, provider: fake, moderation: {{}}}}
  both_checked:
    system_prompt: "Hi."
    model: gpt-4o-mini
    provider: fake
    moderation: {{input: true, output: true}}
bots:
  - name: bench
    platform: console
    persona: plain
    channels:
      input: {{persona: input_checked}}
      both: {{persona: both_checked}}
storage: {{path: "{database}"}}
"""
CHUNK, PACE = 4, 0.02
SHAPES = {
    "paragraphs": ("word " * 30).strip() + "\n\n" + ("word " * 90).strip(),
    "one block": ("word " * 120).strip(),
}


class FirstTextSink:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first: float | None = None

    async def say(self, text: str) -> None:
        pass  # benchmarks send questions, never commands

    @property
    def shown(self) -> str:
        return ""

    async def start(self) -> None:
        return None

    async def append(self, text: str) -> None:
        if self.first is None:
            self.first = time.monotonic() - self.started

    async def finish(self, summary: TurnSummary) -> None:
        return None

    async def fail(self, error: ParleyError) -> None:
        raise AssertionError(f"the turn failed: {error}")

    async def step(self, step: ToolStep) -> None:
        pass  # the bench persona has no tools

    async def ask_approval(self, request: ApprovalRequest) -> None:
        raise AssertionError("the bench persona has no tools")

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        raise AssertionError("the bench persona has no tools")


async def measure(turns: int, check_delay: float) -> None:
    async with FakeOpenAI() as fake:
        fake.moderation_delay = check_delay
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "bots.yaml"
            database = Path(directory) / "parley.db"
            path.write_text(CONFIG.format(base_url=fake.base_url, database=database))
            async with open_runtime(path) as runtime:
                for shape, reply in SHAPES.items():
                    chunks = tuple(reply[i : i + CHUNK] for i in range(0, len(reply), CHUNK))
                    fake.default = Script(chunks=chunks, delay_between_chunks=PACE)
                    for channel in ("plain", "input", "both"):
                        times = []
                        for n in range(turns):
                            key = ConversationKey("console", "local", channel, f"{shape}{n}")
                            message = IncomingMessage("bench", key, Author("u", "U"), "hi", "m")
                            sink = FirstTextSink()
                            await runtime.engine.handle(message, sink)
                            assert sink.first is not None
                            times.append(sink.first)
                        median = statistics.median(times)
                        print(f"{shape:<11} {channel:<6} first text p50 {median * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--check-delay", type=float, default=0.0)
    args = parser.parse_args()
    event_loop.run(measure(args.turns, args.check_delay))


if __name__ == "__main__":
    main()
