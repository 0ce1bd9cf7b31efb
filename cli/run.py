"""`parley run` and `parley chat`: the two commands that hold conversations.

Only these load the composition root (and through it the engine, openai and, for `run`,
the platform SDKs); cli.main imports this module once one of them is chosen, and this module
imports them only once it runs, so `parley chat` can say something first.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from contextlib import nullcontext

from bots import event_loop
from bots.logs import configure_logging

__all__ = ["chat", "run"]

log = logging.getLogger("parley")


def chat(args: argparse.Namespace) -> int:
    """`parley chat` (cli.chat): a line on a terminal first, as loading Parley takes a moment."""
    if sys.stdout.isatty():
        # Overwritten by the chat's first line; a pipe gets only what the chat says.
        sys.stdout.write("Starting Parley…\r")
        sys.stdout.flush()
    from cli.chat import chat as chat_in_terminal

    return chat_in_terminal(args)


def run(args: argparse.Namespace) -> int:
    from bots.config_models import load_config
    from core.store.runner_lock import runner_lock

    config = load_config(args.config)
    # bots.yaml's `logging` for `parley run`; --log-level on the command line wins.
    configure_logging(args.log_level or config.logging.level, config.logging.format)
    # Before anything touches the file: the interrupted-reply sweep must never run while
    # another runner's replies are live.
    # On PostgreSQL, replicas hold their names there instead (bots/app.run_bots).
    lock = runner_lock(config.storage.path) if config.storage.url is None else nullcontext()
    with lock:
        return event_loop.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from bots.app import open_runtime, run_bots
    from bots.platforms import startable_bots

    # The model side (tokenizers, model clients) loads once the bots are connected.
    async with open_runtime(args.config, model_side_now=False) as runtime:
        ready, refused = startable_bots(runtime.config.current)
        for reason in refused:
            log.warning("cannot start bot %s", reason)
        if not ready:
            log.error("no bot in %s can start here; nothing to run", args.config)
            return 1
        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
        log.info("starting %s (event loop: %s)", ", ".join(bot.name for bot in ready), loop)
        stopped_on_request = await run_bots(runtime, ready)
    # Non-zero when every bot stopped by itself: a supervisor should restart or alert.
    return 0 if stopped_on_request else 1
