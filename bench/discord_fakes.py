"""The Discord benchmark's other process: fake Discord and fake model, timing each turn.

Driven by bench/discord_turns.py over stdin/stdout, one JSON object per line, so the fakes'
CPU time never counts as Parley's.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import Counter
from typing import Any

from bench.streamed_reply import chunks_from_argv, reply
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI


async def turn(
    discord: FakeDiscord, model: FakeOpenAI, final_text: str, thread: str | None
) -> dict[str, Any]:
    channel = thread or discord.channel_id
    mention = f"<@{discord.bot_user_id}> " if thread is None else ""
    event = discord.message_create(
        channel,
        discord.user_id,
        f"{mention}a question",
        mentions=[discord.bot_user_id] if thread is None else [],
    )
    calls_before, streams_before = len(discord.calls), len(model.stream_times)
    sent = time.monotonic()
    await discord.dispatch("MESSAGE_CREATE", event)
    where = thread or str(event["id"])  # a mention's thread takes the message's id
    await wait_until(lambda: _shown(discord, where) == final_text, timeout=30)
    await wait_until(lambda: len(model.stream_times) > streams_before)
    await asyncio.sleep(0.2)  # any straggling call lands in the count
    calls = discord.calls[calls_before:]
    arrived, first_text, ended = model.stream_times[streams_before]
    writes = [
        c
        for c in calls
        if c.method in {"POST", "PATCH"} and "/messages" in c.path and "/threads" not in c.path
    ]
    return {
        "thread": where,
        "calls": dict(Counter(f"{c.method} {_route(c.path)}" for c in calls)),
        "to_model_ms": (arrived - sent) * 1000,
        "first_visible_ms": (writes[0].at - first_text) * 1000 if writes else -1.0,
        "final_after_end_ms": (writes[-1].at - ended) * 1000 if writes else -1.0,
    }


def _shown(discord: FakeDiscord, channel: str) -> str:
    try:
        posted = discord.posted(channel)
    except KeyError:
        return ""
    return posted[-1].content.strip() if posted else ""


def _route(path: str) -> str:
    return re.sub(r"\d{15,}", "{id}", path)


async def main(chunks: int) -> None:
    script = reply(chunks)
    final_text = "".join(script.chunks).strip()
    async with FakeDiscord() as discord, FakeOpenAI(default=script) as model:
        _send(
            {
                "api_url": discord.api_url,
                "gateway_url": discord.gateway_url,
                "token": discord.token,
                "guild": discord.guild_id,
                "openai_url": model.base_url,
            }
        )
        await discord.wait_ready()
        _send({"connected": True})
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            _send(await turn(discord, model, final_text, command.get("thread")))


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(chunks_from_argv(sys.argv)))
