"""Parley's Discord bot per turn, on the fakes: REST calls, latencies and CPU seconds.

Run: .venv/bin/python -m bench.discord_turns [--follow-ups 5] [--chunks 352]

The fake Discord and the fake model run in another process (bench/discord_fakes.py); the model
streams a 396-token reply over ~4 s in 352 chunks (`--chunks`). For each turn it prints the
REST calls by route, the time from the event leaving the gateway to the model request, from the
model's first token to the first visible text, from the end of the stream to the final text,
and the CPU seconds the Parley process spent on the turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import bots.discord.bot as discord_bot
from bench.turns import HELPER_ON_FAKE_MODEL, STORAGE, Bot, arguments, benchmark
from bots import event_loop
from bots.app import Runtime
from bots.discord.bot import DiscordBot

CONFIG = (
    HELPER_ON_FAKE_MODEL
    + """\
bots:
  - name: bench
    platform: discord
    persona: helper
    token: ${{DISCORD_TOKEN}}
    api_base_url: "{api_url}"
    gateway_url: "{gateway_url}"
    workspaces: {{"{guild}": {{persona: helper}}}}
"""
    + STORAGE
)


def environment(urls: Mapping[str, Any]) -> Mapping[str, str]:
    return {"DISCORD_TOKEN": urls["token"]}


def make_bot(runtime: Runtime) -> Bot:
    discord_bot.GUILD_READY_TIMEOUT = 0.05  # the fake sends every server at once
    return DiscordBot(runtime.config.current.bot("bench"), runtime.engine)


if __name__ == "__main__":
    options = arguments(__doc__.splitlines()[0])
    turns = benchmark(
        "bench.discord_fakes", CONFIG, environment, make_bot, options.follow_ups, options.chunks
    )
    event_loop.run(turns)
