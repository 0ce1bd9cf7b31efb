"""Parley's Slack bot per turn, on the fakes: API calls, latencies and CPU seconds.

Run: .venv/bin/python -m bench.slack_turns [--follow-ups 5] [--chunks 352]
                                           [--streaming native|edits|both]

The fake Slack and the fake model run in another process (bench/slack_fakes.py); the model
streams a 396-token reply over ~4 s in 352 chunks (`--chunks`). For each turn it prints the
Slack Web API calls by method, the time from the event leaving Slack to the model request, from
the model's first token to the first visible text, from the end of the stream to the final
text, and the CPU seconds the Parley process spent on the turn. `--streaming` picks the bot's
`streaming` mode (native: chat.startStream/appendStream/stopStream; edits: chat.postMessage
and chat.update); both (the default) runs the turns once in each, native first.
"""

from __future__ import annotations

import argparse
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
    streaming: STREAMING
"""
    + STORAGE
)


def environment(urls: Mapping[str, Any]) -> Mapping[str, str]:
    return {"SLACK_BOT_TOKEN": urls["bot_token"], "SLACK_APP_TOKEN": urls["app_token"]}


def make_bot(runtime: Runtime) -> Bot:
    return SlackBot(runtime.config.current.bot("bench"), runtime.engine)


def streaming_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--streaming", choices=("native", "edits", "both"), default="both")


async def main(options: argparse.Namespace) -> None:
    modes = ("native", "edits") if options.streaming == "both" else (options.streaming,)
    for mode in modes:
        print(f"streaming: {mode}", flush=True)
        config = CONFIG.replace("STREAMING", mode)
        await benchmark(
            "bench.slack_fakes", config, environment, make_bot, options.follow_ups, options.chunks
        )


if __name__ == "__main__":
    event_loop.run(main(arguments(__doc__.splitlines()[0], streaming_option)))
