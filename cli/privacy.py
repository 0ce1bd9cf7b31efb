"""`parley forget`, `export` and `conversations`: what an admin can see and erase."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bots.config_models import load_config
from core.errors import ParleyError
from core.store import Erased, Place, Store
from core.store.opening import open_store
from core.transcripts import parse_key, parse_place, transcript_document

# `parley forget` exit codes: 0 deleted (or nothing to delete), 1 nothing deleted
# (declined, no terminal to ask on and no --yes, or an error); 2 is a bad config.
NOT_CONFIRMED = 1
WHERE_KEYS_ARE = (
    "`parley conversations` lists stored conversations, and every `turn <key> ...` "
    "line in Parley's log names one"
)


async def _open_store(args: argparse.Namespace) -> Store:
    return await open_store(load_config(args.config).storage)


def forget(args: argparse.Namespace) -> int:
    return asyncio.run(_forget_async(args))


async def _forget_async(args: argparse.Namespace) -> int:
    place, user = _forget_target(args)
    by_user = user is not None
    described = f"user {user}" if by_user else str(place)
    async with await _open_store(args) as store:

        async def erase(dry_run: bool) -> Erased:
            if user is not None:
                return await store.forget_user(user, dry_run=dry_run)
            assert place is not None
            return await store.forget_place(place, dry_run=dry_run)

        planned = await erase(dry_run=True)
        if planned == Erased():
            print(_nothing_matched(described, by_user=by_user))
            return 0
        print(f"To delete for {described}: {_counts(planned, by_user=by_user)}.")
        if not args.yes and not _confirmed():
            return NOT_CONFIRMED
        done = await erase(dry_run=False)
    print(f"Deleted for {described}: {_counts(done, by_user=by_user)}.")
    return 0


def _forget_target(args: argparse.Namespace) -> tuple[Place | None, str | None]:
    if args.user is not None:
        return None, str(args.user)
    if args.conversation is not None:
        return Place.of(parse_key(args.conversation)), None
    if args.channel is not None:
        return parse_place(args.channel, 3), None
    return parse_place(args.workspace, 2), None


def _counts(erased: Erased, *, by_user: bool) -> str:
    """ "2 messages in 1 conversation", as a person would write it.

    For a user, `conversations` counts only those their messages leave empty (deleted too):
    the others go on without their lines.
    """
    messages, conversations = erased.messages, erased.conversations
    if by_user:
        text = plural(messages, "message")
        if conversations:
            text += f", leaving {plural(conversations, 'conversation')} empty (deleted too)"
    elif messages:
        text = f"{plural(messages, 'message')} in {plural(conversations, 'conversation')}"
    else:
        text = plural(conversations, "empty conversation")
    if erased.usage_rows:
        text += f"; {plural(erased.usage_rows, 'usage row')} kept without the user id"
    if erased.ratings:
        text += f"; {plural(erased.ratings, 'rating')} of replies kept without the user id"
    return text


def _nothing_matched(described: str, *, by_user: bool) -> str:
    if by_user:
        return f"Nothing matched: no message, usage row or rating is stored for {described}."
    return f"Nothing matched: no conversation is stored for {described}; {WHERE_KEYS_ARE}."


def plural(count: int, noun: str) -> str:
    """`1 message`, `2 messages`, `0 messages`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        print(
            "parley: not a terminal, so nothing was deleted; add --yes to confirm.", file=sys.stderr
        )
        return False
    answer = input("Delete this for good? [y/N] ")
    if answer.strip().lower() in {"y", "yes"}:
        return True
    print("Nothing was deleted.")
    return False


def export(args: argparse.Namespace) -> int:
    return asyncio.run(_export_async(args))


async def _export_async(args: argparse.Namespace) -> int:
    key = parse_key(args.conversation)
    async with await _open_store(args) as store:
        messages = await store.transcript(key)
    if messages is None:
        raise ParleyError(f"no conversation {key} is stored; {WHERE_KEYS_ARE}")
    document = transcript_document(key, messages, datetime.now(UTC))
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        _write_owner_only(Path(args.output), text)
    except OSError as error:
        raise ParleyError(f"could not write {args.output}: {error.strerror or error}") from error
    print(f"Wrote {len(messages)} message(s) of {key} to {args.output}.")
    return 0


def _write_owner_only(path: Path, text: str) -> None:
    """Owner-only, like the database: this is the conversation's full text. A new file
    (mkstemp makes it 0600) renamed over the old one: an existing file keeps neither its
    looser mode nor, through a symlink, someone else's file as the target."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def conversations(args: argparse.Namespace) -> int:
    return asyncio.run(_list_async(args))


async def _list_async(args: argparse.Namespace) -> int:
    async with await _open_store(args) as store:
        summaries = await store.recent_conversations(args.limit)
    if not summaries:
        print("No conversation is stored.")
        return 0
    print(f"{'LAST ACTIVITY (UTC)':<20} {'MESSAGES':>8}  KEY")
    for s in summaries:
        print(f"{s.last_activity:%Y-%m-%d %H:%M:%S}  {s.messages:>8}  {s.key}")
    return 0
