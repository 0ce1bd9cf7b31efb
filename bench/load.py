"""1,000 simultaneous conversations on Slack and Discord against a model that takes 1 s.

Run: .venv/bin/python -m bench.load [--slack 500] [--discord 500] [--ordered 50] [--rounds 3]

Three processes: Parley (this one, with its real Slack Socket Mode and Discord gateway bots),
the fake Slack and Discord (bench/load_fakes.py) and the fake model (bench/load_model.py), so
only Parley's own work counts in its CPU time and memory. Each round starts all three afresh
with an empty database. The fakes deliver every conversation's first message at once; in the
last `--ordered` conversations of each platform two more messages follow straight after in the
same thread. Reported: replies posted (each thread must show exactly its replies, in order,
each having seen the replies before it), the wall time from the first delivery to the last
final reply, Parley's CPU seconds and peak RSS, and the database's size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bots.discord.bot as discord_bot
import bots.slack.reply as slack_reply
import bots.slack.stream as slack_stream
from bench.rss import PeakRss, database_bytes
from bench.turns import HELPER_ON_FAKE_MODEL, STORAGE, Bot, Fakes
from bots import event_loop
from bots.app import open_runtime
from bots.discord.bot import DiscordBot
from bots.slack.bot import SlackBot

# The two bots, a str.format template like HELPER_ON_FAKE_MODEL; the Discord bot comes last,
# so bench.load_replicas appends its `shards:` key to it.
BOTS = """\
bots:
  - name: slack-load
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    app_token: ${{SLACK_APP_TOKEN}}
    api_base_url: "{slack_url}"
  - name: discord-load
    platform: discord
    persona: helper
    token: ${{DISCORD_TOKEN}}
    api_base_url: "{discord_api_url}"
    gateway_url: "{gateway_url}"
    workspaces: {{"{guild}": {{persona: helper}}}}
"""
CONFIG = HELPER_ON_FAKE_MODEL + BOTS + STORAGE


async def start_model(seconds: float, chunks: int) -> tuple[asyncio.subprocess.Process, str]:
    model = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load_model", str(seconds), str(chunks),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert model.stdout is not None
    return model, (await model.stdout.readline()).decode().strip()


async def one_round(arguments: argparse.Namespace) -> dict[str, Any]:
    model, openai_url = await start_model(arguments.model_seconds, 5)
    platforms = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load_fakes",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    fakes = Fakes(platforms)
    try:
        urls = await fakes.receive()
        os.environ.update(
            PARLEY_TEST_KEY="sk-load",
            SLACK_BOT_TOKEN=urls["bot_token"],
            SLACK_APP_TOKEN=urls["app_token"],
            DISCORD_TOKEN=urls["discord_token"],
        )
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "bots.yaml"
            config.write_text(CONFIG.format(openai_url=openai_url, **urls))
            return await serve_burst(config, fakes, arguments)
    finally:
        for process in (platforms, model):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            await process.wait()


def lift_limits() -> None:
    """What this benchmark changes in Parley, here and in bench.load_replicas' replicas."""
    discord_bot.GUILD_READY_TIMEOUT = 0.05  # the fake sends every server at once
    # Real Slack allows about 50 chat.update and 100 chat.appendStream calls a minute per
    # workspace, so 500 replies in one workspace would wait minutes for their edits or
    # appends; the fakes lift those limits (see load_fakes.py) and so does Parley here: this
    # measures Parley's own work.
    slack_reply.WORKSPACE_EDITS = 1_000_000
    slack_stream.WORKSPACE_APPENDS = 1_000_000


async def serve_burst(config: Path, fakes: Fakes, arguments: argparse.Namespace) -> dict[str, Any]:
    lift_limits()
    async with open_runtime(config) as runtime:
        bots: list[Bot] = [
            SlackBot(runtime.config.current.bot("slack-load"), runtime.engine),
            DiscordBot(runtime.config.current.bot("discord-load"), runtime.engine),
        ]
        tasks = [asyncio.create_task(bot.run()) for bot in bots]
        try:
            await fakes.receive()  # both connected
            burst = {
                "slack": arguments.slack,
                "discord": arguments.discord,
                "ordered": arguments.ordered,
                "turns": 3,
            }
            with PeakRss() as rss:
                cpu = time.process_time()
                await fakes.send(burst)
                result = await fakes.receive(timeout=200)
                result["cpu_s"] = time.process_time() - cpu
            result["cpu_ms_per_message"] = result["cpu_s"] / result["messages"] * 1000
            result["peak_rss_mb"] = rss.peak_mb
            result["rss_before_mb"] = rss.start_mb
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        database = runtime.config.current.storage.path
    # Closed: SQLite has checkpointed the WAL into the file and removed it.
    result["db_bytes"] = database_bytes(database)
    return result


def show(number: int, r: dict[str, Any]) -> None:
    print(
        f"round {number}: {r['conversations']} conversations, {r['messages']} messages -> "
        f"{r['final_replies']} final replies, {r['problem_count']} threads wrong; "
        f"delivered in {r['delivery_s']:.2f} s; single-turn conversations done "
        f"{r['single_turn_s']:.2f} s, every first reply {r['first_replies_s']:.2f} s, "
        f"all replies {r['all_replies_s']:.2f} s (Slack {r['all_slack_s']:.2f}, Discord "
        f"{r['all_discord_s']:.2f}); Parley CPU {r['cpu_s']:.1f} s "
        f"({r['cpu_ms_per_message']:.1f} ms per message); "
        f"RSS {r['rss_before_mb']:.0f} -> peak {r['peak_rss_mb']:.0f} MB; "
        f"API calls Slack {r['slack_calls']}, Discord {r['discord_calls']}; "
        f"database {r['db_bytes'] / 1e6:.2f} MB",
        flush=True,
    )
    for problem in r["problems"]:
        print("   ", problem[:300])


async def main(arguments: argparse.Namespace) -> None:
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    results = []
    for number in range(1, arguments.rounds + 1):
        results.append(await one_round(arguments))
        show(number, results[-1])

    def median(name: str) -> float:
        return float(statistics.median(r[name] for r in results))

    print(
        f"median of {len(results)} rounds: single-turn done {median('single_turn_s'):.2f} s, "
        f"every first reply {median('first_replies_s'):.2f} s, all replies "
        f"{median('all_replies_s'):.2f} s, CPU {median('cpu_s'):.1f} s "
        f"({median('cpu_ms_per_message'):.1f} ms per message), peak RSS "
        f"{median('peak_rss_mb'):.0f} MB; load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slack", type=int, default=500, help="Slack conversations")
    parser.add_argument("--discord", type=int, default=500, help="Discord conversations")
    parser.add_argument("--ordered", type=int, default=50, help="of each, with 3 messages")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-seconds", type=float, default=1.0, help="per reply")
    event_loop.run(main(parser.parse_args()))
