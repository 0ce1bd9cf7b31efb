"""`parley run` from spawn to connected, and its memory once idle: one Slack or one Discord bot.

Run: .venv/bin/python -m bench.start [--runs 5] [--idle 2] [--platform slack --platform discord]
     [--root before=/path/to/old/checkout --root after=.]

Each run starts a fresh fake (Slack over Socket Mode, or the Discord gateway) in this process
and `python -m cli run` as a child with one bot, its checkout first on the path. It records
the seconds from spawn until the fake sees the platform connection (Slack: the Socket Mode
WebSocket is open; Discord: IDENTIFY answered with READY), until Parley itself says the bot is
connected (its /healthz, asked every 10 ms), the child's CPU seconds until then, and, after
`--idle` seconds with nothing to do, its RSS and peak RSS (VmRSS, VmHWM). Then one mention:
the seconds from the event leaving the fake to the request reaching the fake model (what
the first turn loads on the way shows here), and the RSS `--idle` seconds after the reply
was shown. Each (checkout, platform) first runs once unmeasured, so a fresh checkout
compiles its .pyc files outside the figures; the database is kept between runs, as a
restart would find it. Runs are interleaved across checkouts so a noisy neighbour hits
each alike; medians are printed. The fakes are in bench/start_fakes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.start_fakes import FAKES, Connection
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
BOT = "bench"
COMMON = """\
providers:
  fake: {{base_url: "{model}", api_key: "${{PARLEY_TEST_KEY}}"}}
personas:
  helper: {{system_prompt: "You are a helper.", model: gpt-4o-mini, provider: fake}}
storage: {{path: data/parley.db}}
monitoring: {{port: 0}}
"""
HEALTH_LINE = re.compile(r"health and metrics on (http://\S+/healthz)")
POLL = 0.01
GUARD = 60.0  # seconds: a start that takes longer is reported as failed, not waited for


@dataclass(frozen=True, slots=True)
class Start:
    socket_s: float  # spawn → the fake sees the connection
    ready_s: float  # spawn → /healthz says the bot is connected
    cpu_s: float  # the child's user + system CPU until ready
    rss_mb: float  # idle, after --idle seconds
    peak_mb: float  # VmHWM at that moment
    first_turn_s: float  # a mention leaving the fake → the model request arriving
    turned_rss_mb: float  # idle again after that turn


async def one_start(
    root: Path, platform: str, scratch: Path, idle: float, model: FakeOpenAI
) -> Start:
    async with FAKES[platform]() as fake:
        config = scratch / "bots.yaml"
        config.write_text(COMMON.format(model=model.base_url) + fake.config)
        env = {
            **os.environ,
            **fake.variables,
            "PARLEY_TEST_KEY": "sk-bench",
            "PYTHONPATH": str(root),
        }
        command = [sys.executable, "-m", "cli", "run", "--config", str(config)]
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            *command,
            cwd=scratch,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        lines: list[str] = []
        health = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(_read_log(child, lines, health))
        try:
            async with asyncio.timeout(GUARD):
                await fake.seen()
                socket_s = time.perf_counter() - started
                await _until_connected(await health)
                ready_s = time.perf_counter() - started
                cpu_s = _cpu_seconds(child.pid)
            await asyncio.sleep(idle)
            rss, peak = _memory_mb(child.pid, "VmRSS"), _memory_mb(child.pid, "VmHWM")
            first_turn_s = await _first_turn(fake, model)
            await asyncio.sleep(idle)
            turned_rss = _memory_mb(child.pid, "VmRSS")
        except TimeoutError:
            log = "\n".join(lines)
            sys.exit(f"{platform} via {root}: not connected within {GUARD:g} s:\n{log}")
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
            await child.wait()
            await reader
    return Start(socket_s, ready_s, cpu_s, rss, peak, first_turn_s, turned_rss)


async def _first_turn(fake: Connection, model: FakeOpenAI) -> float:
    streams = len(model.stream_times)
    sent = time.monotonic()
    await fake.mention()
    await wait_until(
        lambda: fake.answered() and len(model.stream_times) > streams,
        timeout=GUARD,
        message="the first mention answered",
    )
    arrived = model.stream_times[streams][0]
    return arrived - sent


async def _read_log(
    child: asyncio.subprocess.Process, lines: list[str], health: asyncio.Future[str]
) -> None:
    assert child.stderr is not None
    async for raw in child.stderr:
        line = raw.decode(errors="replace").rstrip()
        lines.append(line)
        found = HEALTH_LINE.search(line)
        if found and not health.done():
            health.set_result(found.group(1))
    if not health.done():
        health.set_exception(RuntimeError("the child ended before serving /healthz"))


async def _until_connected(healthz: str) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(healthz) as response:
                checks = (await response.json())["checks"]
            if checks.get(f"bot:{BOT}") == "connected":
                return
            await asyncio.sleep(POLL)


def _cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime and stime.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def _checkouts(values: list[str]) -> dict[str, Path]:
    if not values:
        return {"this": ROOT}
    named = (value.partition("=") for value in values)
    return {name: Path(path).resolve() for name, _, path in named}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds before reading RSS")
    parser.add_argument("--platform", action="append", choices=sorted(FAKES))
    parser.add_argument("--root", action="append", default=[], help="NAME=PATH of a checkout")
    args = parser.parse_args()
    platforms: list[str] = args.platform or ["slack", "discord"]
    roots = _checkouts(args.root)
    results: dict[tuple[str, str], list[Start]] = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        async with FakeOpenAI() as model:
            scratch = Path(scratch_dir)
            for name in roots:
                for platform in platforms:
                    (scratch / name / platform).mkdir(parents=True)
                    await one_start(roots[name], platform, scratch / name / platform, 0, model)
            for _ in range(args.runs):
                for platform in platforms:
                    for name, root in roots.items():
                        where = scratch / name / platform
                        start = await one_start(root, platform, where, args.idle, model)
                        results.setdefault((platform, name), []).append(start)
    _print(results, args.runs, args.idle)


def _print(results: dict[tuple[str, str], list[Start]], runs: int, idle: float) -> None:
    print(f"parley run, one bot, median of {runs} runs (interleaved); RSS after {idle:g} s idle")
    print("RSS after: idle again once the first turn (a mention) was answered")
    print(
        f"{'platform':<9}{'checkout':<10}{'socket s':>9}{'ready s':>9}{'cpu s':>8}"
        f"{'RSS MB':>8}{'peak MB':>9}{'1st turn s':>11}{'RSS after':>10}   ready s per run"
    )
    for (platform, name), starts in results.items():

        def median(pick: Callable[[Start], float], starts: list[Start] = starts) -> float:
            return statistics.median(pick(s) for s in starts)

        runs_text = " ".join(f"{s.ready_s:.2f}" for s in starts)
        print(
            f"{platform:<9}{name:<10}{median(lambda s: s.socket_s):>9.2f}"
            f"{median(lambda s: s.ready_s):>9.2f}{median(lambda s: s.cpu_s):>8.2f}"
            f"{median(lambda s: s.rss_mb):>8.1f}{median(lambda s: s.peak_mb):>9.1f}"
            f"{median(lambda s: s.first_turn_s):>11.2f}{median(lambda s: s.turned_rss_mb):>10.1f}"
            f"   {runs_text}"
        )


if __name__ == "__main__":
    asyncio.run(main())
