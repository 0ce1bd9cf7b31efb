"""Parley's Slack bot per turn, on the fakes: API calls, latencies and CPU seconds.

Run: .venv/bin/python -m bench.slack_turns [--follow-ups 5] [--chunks 352]

The fake Slack and the fake model run in another process (bench/slack_fakes.py); the model
streams a 396-token reply over ~4 s in 352 chunks (`--chunks`). For each turn it prints the
Slack Web API calls by method, the time from the event leaving Slack to the model request, from
the model's first token to the first visible text, from the end of the stream to the final
text, and the CPU seconds the Parley process spent on the turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.turns import HELPER_ON_FAKE_MODEL, STORAGE, Bot, arguments, benchmark
from bots import event_loop
from bots.app import Runtime
from bots.slack.bot import SlackBot

CONFIG = (
    HELPER_ON_FAKE_MODEL
    + """\
bots:
  - name: bench
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    app_token: ${{SLACK_APP_TOKEN}}
    api_base_url: "{slack_url}"
"""
    + STORAGE
)


def environment(urls: Mapping[str, Any]) -> Mapping[str, str]:
    return {"SLACK_BOT_TOKEN": urls["bot_token"], "SLACK_APP_TOKEN": urls["app_token"]}


def make_bot(runtime: Runtime) -> Bot:
    return SlackBot(runtime.config.current.bot("bench"), runtime.engine)


if __name__ == "__main__":
    options = arguments(__doc__.splitlines()[0])
    turns = benchmark(
        "bench.slack_fakes", CONFIG, environment, make_bot, options.follow_ups, options.chunks
    )
    event_loop.run(turns)
