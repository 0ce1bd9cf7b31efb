"""Export, forget and list through the CLI while the engine runs on the same file."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from bots.app import Runtime
from cli.main import main
from core.types import Author, ConversationKey, IncomingMessage
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import wait_for_state

THREAD = ConversationKey("console", "local", "parley", "privacy/1")  # '/' in a thread name
MARKER = "locker-code-4711-XYZZY"
ALICE = Author("U1", "Alice")


async def say(runtime: Runtime, text: str, author: Author = ALICE) -> None:
    message = IncomingMessage("parley", THREAD, author, text, f"m-{text[:8]}")
    sink = RecordingSink()
    await runtime.engine.handle(message, sink)
    assert sink.endings == 1 and sink.error is None, sink.events


async def cli(*argv: str) -> int:
    # main() runs its own event loop, as `parley ...` in a second process would.
    return await asyncio.to_thread(main, list(argv))


async def seen_by_the_engine(runtime: Runtime, gone: str) -> None:
    """Waits until the serving store, which looks for other processes' commits every
    SYNC_INTERVAL s, no longer shows `gone` in the thread."""

    async def gone_from_history() -> bool:
        history = await runtime.store.recent_messages(THREAD, 50)
        return all(gone not in m.content for m in history.messages)

    await wait_for_state(gone_from_history, message=f"the engine still sees {gone!r}")


def sent_text(fake: FakeOpenAI) -> str:
    return json.dumps(fake.requests[-1]["messages"])


async def test_export_then_forget_round_trip(
    runtime: Runtime,
    fake_openai: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    config = str(runtime.config.current.source)
    fake_openai.enqueue(Script(chunks=(f"Noted: {MARKER}",), usage=(50, 7, 0)))
    await say(runtime, f"remember {MARKER}")

    assert await cli("conversations", "--config", config) == 0
    listing = capsys.readouterr().out
    assert f"2  {THREAD}" in listing

    out = tmp_path / "export.json"
    key = str(THREAD)
    assert await cli("export", "--conversation", key, "--output", str(out), "--config", config) == 0
    assert (out.stat().st_mode & 0o777) == 0o600
    document = json.loads(out.read_text())
    assert (document["format"], document["key"], document["thread"]) == (
        "parley.conversation/1",
        key,
        "privacy/1",
    )
    user, reply = document["messages"]
    assert (user["role"], user["author_id"], user["author_name"]) == ("user", "U1", "Alice")
    assert MARKER in user["content"] and user["prompt_tokens"] is None
    assert (reply["role"], reply["content"], reply["status"]) == (
        "assistant",
        f"Noted: {MARKER}",
        "complete",
    )
    assert (reply["prompt_tokens"], reply["completion_tokens"]) == (50, 7)
    assert reply["token_count"] > 0 and reply["created_at"].startswith("20")

    # No terminal and no --yes: refused, nothing deleted.
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert await cli("forget", "--conversation", key, "--config", config) == 1
    assert "add --yes" in capsys.readouterr().err
    assert await runtime.store.knows(THREAD)

    assert await cli("forget", "--conversation", key, "--yes", "--config", config) == 0
    assert capsys.readouterr().out == (
        f"To delete for {key}: 2 messages in 1 conversation.\n"
        f"Deleted for {key}: 2 messages in 1 conversation.\n"
    )

    assert await cli("export", "--conversation", key, "--config", config) == 1
    err = capsys.readouterr().err
    assert f"no conversation {key} is stored" in err and "parley conversations" in err
    assert await cli("forget", "--conversation", key, "--yes", "--config", config) == 0
    nothing = capsys.readouterr().out
    assert nothing.startswith(f"Nothing matched: no conversation is stored for {key}; ")
    assert "parley conversations" in nothing
    await seen_by_the_engine(runtime, MARKER)

    # The running engine had the thread's tail cached; it must not answer from it.
    await say(runtime, "what did I ask you to remember?")
    assert MARKER not in sent_text(fake_openai)


async def test_forget_a_user_keeps_others_and_usage_totals(
    runtime: Runtime, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(runtime.config.current.source)
    await say(runtime, f"Alice says {MARKER}")
    await say(runtime, "Bob says hello", Author("U2", "Bob"))

    assert await cli("forget", "--user", "U1", "--yes", "--config", config) == 0
    # Bob's lines keep the conversation: no "in 0 conversations".
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Deleted for user U1: 1 message; 1 usage row kept without the user id."
    )
    await seen_by_the_engine(runtime, MARKER)

    await say(runtime, "Bob again", Author("U2", "Bob"))
    sent = sent_text(fake_openai)
    assert MARKER not in sent and "Bob says hello" in sent
    assert await cli("usage", "--by", "user", "--format", "json", "--config", config) == 0
    rows = {row["group"]: row["turns"] for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows == {"console:forgotten": 1, "console:U2": 2}


async def test_forget_counts_in_words_and_says_when_nothing_matched(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(runtime.config.current.source)
    await say(runtime, "first")
    await say(runtime, "second")

    assert await cli("forget", "--user", "U1", "--yes", "--config", config) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Deleted for user U1: 2 messages; 2 usage rows kept without the user id."
    )
    assert await cli("forget", "--user", "U9", "--yes", "--config", config) == 0
    assert capsys.readouterr().out == (
        "Nothing matched: no message, usage row or rating is stored for user U9.\n"
    )


def test_bad_keys_are_refused_with_the_expected_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--conversation", "slack:T1/C1", "--config", "x.yaml"]) == 1
    assert "platform:workspace/channel/thread" in capsys.readouterr().err
