"""The `parley` command: parse, import only the chosen command's module, run it."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Protocol

from bots.logs import configure_logging, unconfigure_logging
from cli.missing import explain_missing
from cli.parser import parse_arguments
from core.errors import ConfigError, ConfigFileMissing, ParleyError

BROKEN_PIPE = 141


class Handler(Protocol):
    def __call__(self, args: argparse.Namespace) -> int: ...


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    root_level = logging.getLogger().level
    configure_logging(args.log_level or ("warning" if args.command == "chat" else "info"))
    try:
        return handler_of(args.handler)(args)
    except ConfigFileMissing as missing:
        print(explain_missing(missing, args.config_source), file=sys.stderr)
        return 2
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
    except BrokenPipeError:
        # `parley check | head`: the reader left, so the rest has nowhere to go. Python would
        # print a traceback (and another when it flushes stdout at exit); a shell pipeline
        # expects the quiet 128 + SIGPIPE instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    finally:
        # Leaves the process's logging as found: tests call main() many times.
        unconfigure_logging()
        logging.getLogger().setLevel(root_level)


def handler_of(name: str) -> Handler:
    """ "cli.check:check" → that function, importing its module only now.

    Only the chosen command's module is loaded: `parley health` (a HEALTHCHECK every 30 s)
    and `--help` must not pay for the chat SDKs and the composition root that `run` needs.
    """
    module, _, function = name.partition(":")
    handler: Handler = getattr(importlib.import_module(module), function)
    return handler


if __name__ == "__main__":
    sys.exit(main())
