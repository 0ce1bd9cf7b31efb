"""What the Slack and Discord turn benchmarks share: the fakes process, the turns, the report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from bench.streamed_reply import DEFAULT_CHUNKS
from bots.app import Runtime, open_runtime

# The provider and persona every platform benchmark runs: the fake model, a plain prompt.
# A str.format template: the benchmark fills in openai_url and its bots' URLs.
HELPER_ON_FAKE_MODEL = """\
providers:
  fake: {{base_url: "{openai_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 30}}
personas:
  helper:
    system_prompt: "You are {{bot_name}} in {{workspace_name}}, {{channel_name}}."
    model: gpt-4o-mini
    provider: fake
    max_tokens: 1024
    context_tokens: 16000
"""
STORAGE = "storage: {{path: data/parley.db}}\n"


def arguments(
    description: str, more: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The options both turn benchmarks take, and a benchmark's own (`more`)."""
    parser = argparse.ArgumentParser(description=description)
    if more is not None:
        more(parser)
    parser.add_argument("--follow-ups", type=int, default=5)
    parser.add_argument(
        "--chunks",
        type=int,
        default=DEFAULT_CHUNKS,
        help="how many chunks the ~396-token reply streams in (100: the pre-issue-16 figure)",
    )
    return parser.parse_args()


class Bot(Protocol):
    async def run(self) -> None: ...


class Fakes:
    """The child process holding the fakes, spoken to one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    async def receive(self, timeout: float = 60) -> dict[str, Any]:  # noqa: ASYNC109
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout)
        if not line:
            raise SystemExit("the fakes process ended early")
        result: dict[str, Any] = json.loads(line)
        return result

    async def send(self, command: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps(command) + "\n").encode())
        await self._process.stdin.drain()

    async def turn(self, thread: str | None) -> dict[str, Any]:
        await self.send({"thread": thread})
        return await self.receive()


async def benchmark(
    fakes_module: str,
    config_template: str,
    environment: Callable[[Mapping[str, Any]], Mapping[str, str]],
    make_bot: Callable[[Runtime], Bot],
    follow_ups: int,
    chunks: int = DEFAULT_CHUNKS,
) -> None:
    """Starts the fakes in their own process, Parley in this one, and runs the turns."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        fakes_module,
        str(chunks),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    fakes = Fakes(process)
    try:
        urls = await fakes.receive()
        os.environ.update(PARLEY_TEST_KEY="sk-bench", **environment(urls))
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "bots.yaml"
            config.write_text(config_template.format(**urls))
            await run_turns(config, fakes, make_bot, follow_ups)
    finally:
        process.terminate()
        await process.wait()


async def run_turns(
    config: Path, fakes: Fakes, make_bot: Callable[[Runtime], Bot], follow_ups: int
) -> None:
    async with open_runtime(config) as runtime:
        bot = make_bot(runtime)
        task = asyncio.create_task(bot.run())
        try:
            await fakes.receive()  # connected
            results = [await timed_turn(fakes, None)]
            thread = results[0]["thread"]
            for _ in range(follow_ups):
                results.append(await timed_turn(fakes, thread))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    report(results)


async def timed_turn(fakes: Fakes, thread: str | None) -> dict[str, Any]:
    cpu = time.process_time()
    result = await fakes.turn(thread)
    result["cpu_s"] = time.process_time() - cpu
    return result


def report(results: list[dict[str, Any]]) -> None:
    for index, r in enumerate(results):
        kind = "first turn (mention)" if index == 0 else f"follow-up {index}"
        calls = ", ".join(f"{method} {count}" for method, count in sorted(r["calls"].items()))
        if "text_sent" in r:
            calls += f"; {r['text_sent']} characters of text sent"
        print(
            f"{kind:>21}: {sum(r['calls'].values())} calls ({calls}); to model "
            f"{r['to_model_ms']:.1f} ms; first token -> visible {r['first_visible_ms']:.1f} ms; "
            f"stream end -> final {r['final_after_end_ms']:.1f} ms; CPU {r['cpu_s']:.3f} s"
        )
    follow = results[1:]
    if not follow:
        return

    def median(name: str) -> float:
        return float(statistics.median(r[name] for r in follow))

    calls = statistics.median(sum(r["calls"].values()) for r in follow)
    print(
        f"follow-up medians: calls {calls:.0f}, to model {median('to_model_ms'):.1f} ms, "
        f"first visible {median('first_visible_ms'):.1f} ms, "
        f"final {median('final_after_end_ms'):.1f} ms, CPU {median('cpu_s'):.3f} s"
    )
