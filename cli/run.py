"""`parley run` and `parley chat`: the two commands that hold conversations.

Only these load the composition root (and through it the engine, openai and, for `run`,
the platform SDKs); cli.main imports this module once one of them is chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from datetime import UTC, datetime

from bots.app import mark_interrupted, open_runtime, run_bots
from bots.config_models import load_config
from bots.console import ConsoleChat
from bots.console_config import ConsoleBotConfig
from bots.logs import configure_logging
from bots.platforms import startable_bots
from core.config import Config
from core.errors import ParleyError
from core.store.runner_lock import runner_lock
from core.types import Author

log = logging.getLogger("parley")


def chat(args: argparse.Namespace) -> int:
    return asyncio.run(_chat(args))


async def _chat(args: argparse.Namespace) -> int:
    async with open_runtime(args.config) as runtime:
        bot_name = _chat_bot(runtime.config.current, args.bot)
        await mark_interrupted(runtime, [bot_name])
        runtime.config.hold_running({bot_name: runtime.config.current.bot(bot_name).platform})
        thread = args.thread or datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
        user = _console_user(runtime.config.current, bot_name)
        others = [bot.name for bot in runtime.config.current.bots if bot.name != bot_name]
        choose = f" Other bots: {', '.join(others)} (pick with --bot)." if others else ""
        print(
            f"Parley: chatting with {bot_name} in thread '{thread}' "
            f"(continue later with --thread {thread}). /help for commands.{choose}",
            flush=True,
        )
        # sys.stdout as it is now: ConsoleChat's default was bound when bots.console was first
        # imported, which is no longer at start-up (tests swap stdout in between).
        console = ConsoleChat(
            runtime.engine, bot_name=bot_name, thread=thread, user=user, out=sys.stdout
        )
        await console.run()
    return 0


def _chat_bot(config: Config, wanted: str | None) -> str:
    names = [bot.name for bot in config.bots]
    if wanted is not None:
        if wanted not in names:
            raise ParleyError(f"no bot named {wanted!r}; bots in this file: {', '.join(names)}")
        return wanted
    console_bots = [bot.name for bot in config.bots if bot.platform == "console"]
    return (console_bots or names)[0]


def _console_user(config: Config, bot_name: str) -> Author:
    bot = config.bot(bot_name)
    name = bot.user_name if isinstance(bot, ConsoleBotConfig) else getpass.getuser()
    return Author(id=f"console:{name}", display_name=name)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    # bots.yaml's `logging` for `parley run`; --log-level on the command line wins.
    configure_logging(args.log_level or config.logging.level, config.logging.format)
    # Before anything touches the file: the interrupted-reply sweep must never run while
    # another runner's replies are live.
    with runner_lock(config.storage.path):
        return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    async with open_runtime(args.config) as runtime:
        ready, refused = startable_bots(runtime.config.current)
        for reason in refused:
            log.warning("cannot start bot %s", reason)
        if not ready:
            log.error("no bot in %s can start here; nothing to run", args.config)
            return 1
        log.info("starting %s", ", ".join(bot.name for bot in ready))
        stopped_on_request = await run_bots(runtime, ready)
    # Non-zero when every bot stopped by itself: a supervisor should restart or alert.
    return 0 if stopped_on_request else 1
