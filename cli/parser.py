"""Every `parley` command and its arguments, declared without importing what runs them."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "bots.yaml"
# Copies of core.usage.GROUPS, core.feedback.GROUPS and core.transcripts.KEY_FORM (a test
# keeps them equal): importing those modules loads the config models and the store, too slow
# for `--help`.
USAGE_GROUPS = ("bot", "channel", "day", "model", "persona", "user", "workspace")
FEEDBACK_GROUPS = ("bot", "model", "persona", "workspace")
KEY_FORM = "platform:workspace/channel/thread, as in the `turn ...` log lines"


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, with `config` the one file it names (or $PARLEY_CONFIG, ./bots.yaml).

    `--config` may come before the command or after it (and `check` takes the path as an
    argument too); naming two different files is refused rather than one silently winning.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    named: list[Path] = []
    for given in (args.config_before, args.config, getattr(args, "path", None)):
        # bots.yaml and ./bots.yaml and its absolute path are one file.
        if given is not None and given.absolute() not in {n.absolute() for n in named}:
            named.append(given)
    if len(named) > 1:
        parser.error(f"two config files named ({named[0]} and {named[1]}); give one")
    if named:
        args.config, args.config_source = named[0], "named on the command line"
    elif os.environ.get("PARLEY_CONFIG"):
        args.config, args.config_source = Path(os.environ["PARLEY_CONFIG"]), "from $PARLEY_CONFIG"
    else:
        args.config = Path(DEFAULT_CONFIG)
        args.config_source = "the default: bots.yaml in the current folder"
    return args


class _Version(argparse.Action):
    """`--version`: the installed package's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print Parley's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from core.version import UNKNOWN_VERSION, parley_version

        found = parley_version()
        if found == UNKNOWN_VERSION:
            found = "(version unknown: run from source, not installed)"
        parser.exit(message=f"parley {found}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: a self-hosted AI assistant for Slack, Discord and the terminal.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "--config",
        dest="config_before",
        type=Path,
        metavar="CONFIG",
        help="path to bots.yaml, for any command (default: $PARLEY_CONFIG or ./bots.yaml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = _command(commands, "chat", "talk to a bot in this terminal", "cli.run:chat")
    chat.add_argument(
        "--bot", help="the bot whose persona answers (default: the first console bot)"
    )
    chat.add_argument(
        "--thread", help="conversation name; reuse it to continue (default: a new thread)"
    )

    check = _command(
        commands, "check", "validate bots.yaml and summarise what it sets up", "cli.check:check"
    )
    check.add_argument("path", nargs="?", type=Path, help="config file (same as --config)")
    check.add_argument(
        "--probe",
        action="store_true",
        help="also ask each remote provider whether it offers the personas' models",
    )

    _command(commands, "run", "start every bot in bots.yaml in this process", "cli.run:run")
    _command(
        commands,
        "health",
        "exit 0 if `parley run` says it is healthy (HEALTHCHECK)",
        "cli.health:health",
    )
    usage = _command(commands, "usage", "tokens and cost for a period, grouped", "cli.usage:usage")
    usage.add_argument("--since", default="7d", help="7d, 24h, 2w or an ISO date (default 7d)")
    usage.add_argument("--until", default=None, help="same forms; default now")
    usage.add_argument("--by", choices=USAGE_GROUPS, default="workspace", help="grouping")
    usage.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rated = _command(
        commands, "feedback", "👍 and 👎 on replies for a period, grouped", "cli.feedback:feedback"
    )
    rated.add_argument("--since", default="7d", help="7d, 24h, 2w or an ISO date (default 7d)")
    rated.add_argument("--until", default=None, help="same forms; default now")
    rated.add_argument("--by", choices=FEEDBACK_GROUPS, default="persona", help="grouping")
    rated.add_argument("--format", choices=["table", "csv", "json"], default="table")
    notes = _command(
        commands,
        "notes-server",
        "a small MCP server of notes over stdio, to try tools with (see README, Tools)",
        "cli.notes_server:notes_server",
    )
    notes.add_argument("--file", default="data/notes.json", help="the notes file (JSON)")
    _privacy_commands(commands)
    _store_commands(commands)
    return parser


def _store_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    store = commands.add_parser(
        "store", help="move the stored conversations", description="Move the stored conversations."
    )
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    copy = _command(
        store_commands,
        "copy",
        "copy a SQLite store into PostgreSQL (resumable; counts checked at the end)",
        "cli.store_copy:store_copy",
    )
    copy.add_argument(
        "--from", dest="source", type=Path, required=True, metavar="PATH",
        help="the SQLite file `parley run` used (storage.path)",
    )  # fmt: skip
    target = copy.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--to", metavar="URL",
        help="postgresql://USER:${PGPASSWORD}@HOST/DB; ${VAR} is read from the environment",
    )  # fmt: skip
    target.add_argument(
        "--to-env", metavar="VAR", help="an environment variable holding the whole URL"
    )
    copy.add_argument(
        "--batch-size", type=_positive, default=5000, metavar="ROWS",
        help="rows per transaction (default 5000)",
    )  # fmt: skip


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _privacy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    forget = _command(
        commands,
        "forget",
        "delete stored messages of a conversation, place or user",
        "cli.privacy:forget",
    )
    target = forget.add_mutually_exclusive_group(required=True)
    target.add_argument("--conversation", metavar="KEY", help=f"one conversation: {KEY_FORM}")
    target.add_argument("--channel", metavar="P:W/C", help="platform:workspace/channel")
    target.add_argument("--workspace", metavar="P:W", help="platform:workspace")
    target.add_argument(
        "--user", metavar="ID", help="everything this user id wrote, on every platform"
    )
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    export = _command(commands, "export", "write one conversation as JSON", "cli.privacy:export")
    export.add_argument("--conversation", metavar="KEY", required=True, help=KEY_FORM)
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")

    listing = _command(
        commands,
        "conversations",
        "list recently active stored conversations",
        "cli.privacy:conversations",
    )
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: str,
) -> argparse.ArgumentParser:
    """`handler` is "module:function", imported by cli.main only once this command is chosen."""
    command = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
    # Resolved by parse_arguments with a --config given before the command.
    command.add_argument(
        "--config", type=Path, help="path to bots.yaml (default: $PARLEY_CONFIG or ./bots.yaml)"
    )
    command.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="how much to log"
    )
    command.set_defaults(handler=handler)
    return command
