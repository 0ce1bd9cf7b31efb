"""The `parley` command: chat in a terminal, check a config, run every bot."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bots.app import mark_interrupted, open_runtime, run_bots, startable_bots
from bots.check import print_check
from bots.config_models import load_config
from bots.console import ConsoleChat
from bots.console_config import ConsoleBotConfig
from bots.health import ask_health
from bots.logs import configure_logging, unconfigure_logging
from bots.privacy import add_commands as add_privacy_commands
from bots.probe import probe_providers
from bots.usage_report import write_report
from core.config import Config
from core.errors import ConfigError, ParleyError
from core.store import Store
from core.types import Author
from core.usage import GROUPS, parse_moment, summarize

DEFAULT_CONFIG = "bots.yaml"
log = logging.getLogger("parley")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root_level = logging.getLogger().level
    configure_logging(args.log_level or ("warning" if args.command == "chat" else "info"))
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        print(f"parley: {args.config} has problems:", file=sys.stderr)
        for issue in error.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    except ParleyError as error:
        print(f"parley: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        # Leaves the process's logging as found: tests call main() many times.
        unconfigure_logging()
        logging.getLogger().setLevel(root_level)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: a self-hosted AI assistant for Slack, Discord and the terminal.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = _command(commands, "chat", "talk to a bot in this terminal", _chat)
    chat.add_argument(
        "--bot", help="the bot whose persona answers (default: the first console bot)"
    )
    chat.add_argument(
        "--thread", help="conversation name; reuse it to continue (default: a new thread)"
    )

    check = _command(commands, "check", "validate bots.yaml and summarise what it sets up", _check)
    check.add_argument("path", nargs="?", type=Path, help="config file (same as --config)")
    check.add_argument(
        "--probe",
        action="store_true",
        help="also ask each remote provider whether it offers the personas' models",
    )

    _command(commands, "run", "start every bot in bots.yaml in this process", _run)
    _command(commands, "health", "exit 0 if `parley run` says it is healthy (HEALTHCHECK)", _health)
    usage = _command(commands, "usage", "tokens and cost for a period, grouped", _usage)
    usage.add_argument("--since", default="7d", help="7d, 24h, 2w or an ISO date (default 7d)")
    usage.add_argument("--until", default=None, help="same forms; default now")
    usage.add_argument("--by", choices=sorted(GROUPS), default="workspace", help="grouping")
    usage.add_argument("--format", choices=["table", "csv", "json"], default="table")
    add_privacy_commands(lambda name, summary, run: _command(commands, name, summary, run))
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    command = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
    command.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("PARLEY_CONFIG", DEFAULT_CONFIG)),
        help="path to bots.yaml (default: $PARLEY_CONFIG or ./bots.yaml)",
    )
    command.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="how much to log"
    )
    command.set_defaults(handler=handler)
    return command


def _use_logging_config(args: argparse.Namespace, config: Config) -> None:
    """bots.yaml's `logging` for `parley run`; --log-level on the command line wins."""
    configure_logging(args.log_level or config.logging.level, config.logging.format)


def _check(args: argparse.Namespace) -> int:
    path: Path = args.path or args.config
    args.config = path
    config = load_config(path)
    probed = asyncio.run(probe_providers(config)) if args.probe else None
    return print_check(config, sys.stdout, probed)


def _chat(args: argparse.Namespace) -> int:
    return asyncio.run(_chat_async(args))


async def _chat_async(args: argparse.Namespace) -> int:
    async with open_runtime(args.config) as runtime:
        bot_name = _chat_bot(runtime.config.current, args.bot)
        await mark_interrupted(runtime, [bot_name])
        thread = args.thread or datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
        user = _console_user(runtime.config.current, bot_name)
        others = [bot.name for bot in runtime.config.current.bots if bot.name != bot_name]
        choose = f" Other bots: {', '.join(others)} (pick with --bot)." if others else ""
        print(
            f"Parley: chatting with {bot_name} in thread '{thread}' "
            f"(continue later with --thread {thread}). /help for commands.{choose}",
            flush=True,
        )
        chat = ConsoleChat(runtime.engine, bot_name=bot_name, thread=thread, user=user)
        await chat.run()
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


def _run(args: argparse.Namespace) -> int:
    _use_logging_config(args, load_config(args.config))
    return asyncio.run(_run_async(args))


async def _run_async(args: argparse.Namespace) -> int:
    async with open_runtime(args.config) as runtime:
        ready, refused = startable_bots(runtime.config.current)
        for reason in refused:
            log.warning("cannot start bot %s", reason)
        if not ready:
            log.error("no bot in %s can start here; nothing to run", args.config)
            return 1
        log.info("starting %s", ", ".join(bot.name for bot in ready))
        await run_bots(runtime, ready)
    return 0


def _usage(args: argparse.Namespace) -> int:
    return asyncio.run(_usage_async(args))


async def _usage_async(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    now = datetime.now(UTC)
    since = parse_moment(args.since, now)
    until = parse_moment(args.until, now) if args.until else now
    store = await Store.open(config.storage.path)
    try:
        rows = await store.ledger.usage_rows(since, until)
    finally:
        await store.close()
    lines = summarize(rows, args.by, config.prices)
    write_report(lines, by=args.by, since=since, until=until, fmt=args.format, out=sys.stdout)
    return 0


def _health(args: argparse.Namespace) -> int:
    healthy, summary = ask_health(load_config(args.config).monitoring)
    print(summary)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
