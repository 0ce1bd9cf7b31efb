"""`parley chat`: one conversation in this terminal, through the same engine as every bot."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TextIO

from bots import event_loop
from bots.app import mark_interrupted, open_runtime
from bots.console import ConsoleChat, console_key
from bots.console_config import ConsoleBotConfig
from bots.console_progress import ModelStartView
from core.config import Config, ProviderConfig
from core.errors import ParleyError
from core.llm import ModelClient
from core.local_model import LocalModelClient, StartWatcher
from core.providers import ModelClients, client_for
from core.types import Author

EARLIER_MESSAGES = 6  # the last three exchanges of a thread being continued


def chat(args: argparse.Namespace) -> int:
    with _turn_lines_left_to_the_console(args.log_level is None):
        return event_loop.run(_chat(args))


@contextlib.contextmanager
def _turn_lines_left_to_the_console(quiet: bool) -> Iterator[None]:
    """The console shows each failed turn with its reason; the engine's warning line about
    the same turn would only repeat it between the prompts (--log-level brings it back)."""
    engine_log = logging.getLogger("core.engine")
    level = engine_log.level
    if quiet:
        engine_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        engine_log.setLevel(level)


async def _chat(args: argparse.Namespace) -> int:
    # sys.stdout as it is now, not as it was at import: tests swap it in between.
    out = sys.stdout
    view = ModelStartView(out)
    async with open_runtime(args.config, models=ModelClients(_showing_starts(view))) as runtime:
        config = runtime.config.current
        bot_name = _chat_bot(config, args.bot)
        await mark_interrupted(runtime, [bot_name])
        runtime.config.hold_running({bot_name: config.bot(bot_name).platform})
        thread = args.thread or datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
        _greet(out, config, bot_name, thread)
        console = ConsoleChat(
            runtime.engine,
            bot_name=bot_name,
            thread=thread,
            user=_console_user(config, bot_name),
            out=out,
            waits=view,
        )
        if args.thread:
            earlier = await runtime.store.recent_messages(
                console_key(bot_name, thread), EARLIER_MESSAGES
            )
            console.show_earlier(earlier.messages, earlier.more_before)
        try:
            await console.run()
        finally:
            await view.close()
    return 0


def _greet(out: TextIO, config: Config, bot_name: str, thread: str) -> None:
    others = [bot.name for bot in config.bots if bot.name != bot_name]
    choose = f" Other bots: {', '.join(others)} (pick with --bot)." if others else ""
    out.write(
        f"Parley: chatting with {bot_name} in thread '{thread}' "
        f"(continue later with --thread {thread}). /help for commands.{choose}\n"
    )
    if missing := _missing_key(config, bot_name):
        out.write(f"  (every reply will fail until {missing}{_local_hint(config, bot_name)})\n")
    out.flush()


def _missing_key(config: Config, bot_name: str) -> str | None:
    """Said before the first message, not after it: the bot's provider key is not set."""
    persona = config.personas[config.bot(bot_name).persona]
    key = config.providers[persona.provider].api_key
    if key is None or key.is_set:
        return None
    return f"{key.variable} is set: {persona.provider}, which {bot_name} answers with, needs it"


def _local_hint(config: Config, bot_name: str) -> str:
    for bot in config.bots:
        provider = config.providers[config.personas[bot.persona].provider]
        if bot.name != bot_name and bot.platform == "console" and provider.type == "llamacpp":
            return f"; `parley chat --bot {bot.name}` needs no key"
    return ""


def _showing_starts(view: StartWatcher) -> Callable[[ProviderConfig], ModelClient]:
    """The usual model clients, except that a local model says in the terminal that it is
    loading (the first reply waits for it)."""

    def build(provider: ProviderConfig) -> ModelClient:
        client = client_for(provider)
        if isinstance(client, LocalModelClient):
            client.start_watcher = view
        return client

    return build


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
