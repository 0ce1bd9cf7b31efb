"""CPU per platform call of a streamed reply: a Slack chat.update, a Discord message edit.

Run: .venv/bin/python -m bench.platform_calls [--calls 200] [--runs 5]

The fake Slack and fake Discord run in another process (this module, with `fakes`), so only
Parley's side of each call counts: building the request, the HTTP exchange through the
bot's own clients (Slack's with Parley's retry and counting handlers), reading the answer.
For Discord it also prints the raw route, without the Message object discord.py builds from
each answer, to show what that object costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord

from bots import event_loop
from bots.discord.reply import NO_PINGS
from bots.slack.bot import _web_client  # the bot's own client, handlers and all
from bots.slack.mentions import without_pings
from core.metrics import ignore_api_calls

CHANNEL = "C0BENCH"
TEXT = "A streamed reply, some way in. " * 40  # ~1,200 characters, as a mid-reply edit
Call = Callable[[int], Awaitable[object]]


async def cpu_per_call(call: Call, calls: int, runs: int) -> float:
    """The median over `runs` of CPU seconds per call, `calls` calls in a row each."""
    await call(-1)  # connections open, caches warm
    figures = []
    for _ in range(runs):
        started = time.process_time()
        for n in range(calls):
            await call(n)
        figures.append((time.process_time() - started) / calls)
    return float(statistics.median(figures))


async def slack(urls: dict[str, Any], calls: int, runs: int) -> float:
    async with aiohttp.ClientSession() as session:
        client = _web_client(urls["slack_token"], urls["slack_url"], ignore_api_calls, session)
        posted = await client.chat_postMessage(channel=CHANNEL, markdown_text="start")
        ts = str(posted["ts"])

        async def edit(n: int) -> object:
            text = without_pings(f"{TEXT}{n}")
            return await client.chat_update(channel=CHANNEL, ts=ts, markdown_text=text)

        return await cpu_per_call(edit, calls, runs)


async def discord_calls(urls: dict[str, Any], calls: int, runs: int) -> tuple[float, float]:
    discord.http.Route.BASE = urls["discord_url"]
    client = discord.Client(intents=discord.Intents.none(), allowed_mentions=NO_PINGS)
    await client.login(urls["discord_token"])
    try:
        channel = client.get_partial_messageable(int(urls["discord_channel"]))
        message = await channel.send("start")

        async def edit(n: int) -> object:
            return await message.edit(content=f"{TEXT}{n}", allowed_mentions=NO_PINGS)

        async def raw(n: int) -> object:
            params = discord.http.handle_message_parameters(
                content=f"{TEXT}{n}", allowed_mentions=NO_PINGS
            )
            return await client.http.edit_message(channel.id, message.id, params=params)

        return await cpu_per_call(edit, calls, runs), await cpu_per_call(raw, calls, runs)
    finally:
        await client.close()


async def main(calls: int, runs: int) -> None:
    fakes = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.platform_calls",
        "fakes",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert fakes.stdout is not None
        urls = json.loads(await fakes.stdout.readline())
        per_update = await slack(urls, calls, runs)
        per_edit, per_raw = await discord_calls(urls, calls, runs)
    finally:
        fakes.terminate()
        await fakes.wait()
    print(f"  slack chat.update: {per_update * 1000:.3f} ms CPU per call")
    print(f"discord message.edit: {per_edit * 1000:.3f} ms CPU per call")
    print(f"discord raw edit route: {per_raw * 1000:.3f} ms CPU per call (no Message object)")
    print(f"(medians of {runs} runs of {calls} calls)")


async def serve() -> None:
    """The other process: both fakes, their addresses on stdout, until stdin closes."""
    from tests.fakes.discord_server import FakeDiscord
    from tests.fakes.slack_server import FakeSlack

    # No 429s: this measures a call, not the wait for a slot in the workspace's budget.
    async with FakeSlack(updates_per_minute=None) as fake_slack, FakeDiscord() as fake_discord:
        fake_slack.add_channel(CHANNEL, "bench")
        urls = {
            "slack_url": fake_slack.api_url,
            "slack_token": fake_slack.bot_token,
            "discord_url": fake_discord.api_url,
            "discord_token": fake_discord.token,
            "discord_channel": fake_discord.channel_id,
        }
        sys.stdout.write(json.dumps(urls) + "\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    if sys.argv[1:] == ["fakes"]:
        asyncio.run(serve())
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--calls", type=int, default=200)
        parser.add_argument("--runs", type=int, default=5)
        arguments = parser.parse_args()
        event_loop.run(main(arguments.calls, arguments.runs))
