"""Parley's Discord bot per turn, on the fakes: REST calls, latencies and CPU seconds.

Run: .venv/bin/python -m bench.discord_turns [--follow-ups 5]

The fake Discord and the fake model run in another process (bench/discord_fakes.py); the model
streams a ~400-token reply over ~4 s. For each turn it prints the REST calls by route,
the time from the event leaving the gateway to the model request, from the model's first
token to the first visible text, from the end of the stream to the final text, and the CPU
seconds the Parley process spent on the turn.
"""

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
from pathlib import Path
from typing import Any

import bots.discord.bot as discord_bot
from bots.app import open_runtime
from bots.discord.bot import DiscordBot

CONFIG = """\
providers:
  fake: {{base_url: "{openai_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 30}}
personas:
  helper:
    system_prompt: "You are {{bot_name}} in {{workspace_name}}, {{channel_name}}."
    model: gpt-4o-mini
    provider: fake
    max_tokens: 1024
    context_tokens: 16000
bots:
  - name: bench
    platform: discord
    persona: helper
    token: ${{DISCORD_TOKEN}}
    api_base_url: "{api_url}"
    gateway_url: "{gateway_url}"
    workspaces: {{"{guild}": {{persona: helper}}}}
storage: {{path: data/parley.db}}
"""


class Fakes:
    """The child process holding the fakes, spoken to one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    async def receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        if not line:
            raise SystemExit("the fakes process ended early")
        result: dict[str, Any] = json.loads(line)
        return result

    async def turn(self, thread: str | None) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps({"thread": thread}) + "\n").encode())
        await self._process.stdin.drain()
        return await self.receive()


async def main(follow_ups: int) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.discord_fakes",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    fakes = Fakes(process)
    try:
        urls = await fakes.receive()
        os.environ.update(PARLEY_TEST_KEY="sk-bench", DISCORD_TOKEN=urls["token"])
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "bots.yaml"
            config.write_text(CONFIG.format(**urls))
            await run_turns(config, fakes, follow_ups)
    finally:
        process.terminate()
        await process.wait()


async def run_turns(config: Path, fakes: Fakes, follow_ups: int) -> None:
    async with open_runtime(config) as runtime:
        discord_bot.GUILD_READY_TIMEOUT = 0.05  # the fake sends every server at once
        bot = DiscordBot(runtime.config.current.bot("bench"), runtime.engine)
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow-ups", type=int, default=5)
    asyncio.run(main(parser.parse_args().follow_ups))
