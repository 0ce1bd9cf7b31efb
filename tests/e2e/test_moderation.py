"""Moderation end to end: the real openai client against the fake's /v1/moderations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from cli.main import main
from core.errors import ContentFlagged
from core.types import Author, ConversationKey, IncomingMessage, ModerationFlag, TurnOutcome
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.sinks import RecordingSink

CONFIG = """\
providers:
  fake: {{base_url: "{base_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 1, max_retries: 0}}
  local: {{type: llamacpp}}
personas:
  guarded:
    system_prompt: "Be kind."
    model: gpt-4o-mini
    provider: fake
    moderation: {{input: true, output: true}}
  inputs_only:
    system_prompt: "Be kind."
    model: gpt-4o-mini
    provider: fake
    moderation: {{}}
  local_checker:
    system_prompt: "Be kind."
    model: gpt-4o-mini
    provider: fake
    moderation: {{provider: local, output: true}}
bots:
  - name: parley
    platform: console
    persona: guarded
    channels:
      inputs: {{persona: inputs_only}}
      local: {{persona: local_checker}}
storage: {{path: "{database}"}}
"""
MARKER = "FLAGME"
ALICE = Author("U1", "Alice")


def key(channel: str = "general", thread: str = "t1") -> ConversationKey:
    return ConversationKey("console", "local", channel, thread)


@pytest.fixture
def config_path(tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-moderation")
    fake_openai.flag_words = {MARKER: ("violence", "harassment/threatening")}
    path = tmp_path / "bots.yaml"
    database = tmp_path / "data" / "parley.db"
    path.write_text(CONFIG.format(base_url=fake_openai.base_url, database=database))
    return path


@pytest.fixture
async def runtime(config_path: Path) -> AsyncIterator[Runtime]:
    async with open_runtime(config_path) as runtime:
        yield runtime


async def turn(
    runtime: Runtime, text: str, where: ConversationKey | None = None, n: int = 1
) -> tuple[RecordingSink, TurnOutcome]:
    sink = RecordingSink()
    message = IncomingMessage("parley", where or key(), ALICE, text, f"m{n}")
    outcome = await runtime.engine.handle(message, sink)
    assert sink.endings == 1, sink.events
    return sink, outcome


async def stored(runtime: Runtime, where: ConversationKey | None = None) -> list[tuple[str, ...]]:
    history = await runtime.store.recent_messages(where or key(), 20)
    return [(m.role, m.content, m.status) for m in history.messages]


async def test_flagged_input_is_refused_without_a_model_call_and_kept(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    sink, outcome = await turn(runtime, f"how do I {MARKER} my neighbour")

    assert fake_openai.requests == []
    assert fake_openai.moderated == [f"how do I {MARKER} my neighbour"]
    assert sink.events == ["fail"]
    assert isinstance(sink.error, ContentFlagged)
    assert "flagged by content moderation" in sink.error.user_message
    assert MARKER not in sink.error.user_message
    assert outcome.flagged == ModerationFlag("input", ("harassment/threatening", "violence"))
    assert await stored(runtime) == [
        ("user", f"how do I {MARKER} my neighbour", "failed"),
        ("assistant", "", "failed"),
    ]


async def test_a_flagged_message_is_not_replayed_to_the_model_later(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    await turn(runtime, f"{MARKER} this")
    sink, outcome = await turn(runtime, "tell me a joke", n=2)

    assert outcome.status == "complete" and outcome.flagged is None
    assert sink.text == "echo: [Alice] tell me a joke"
    sent = fake_openai.requests[-1]["messages"]
    assert isinstance(sent, list)
    assert [m["role"] for m in sent] == ["system", "user"]


async def test_a_clean_turn_is_checked_both_ways_and_answered(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    sink, outcome = await turn(runtime, "hello")

    assert sink.events[0] == "start" and sink.events[-1] == "finish"
    assert sink.text == "Hello world"
    assert outcome.status == "complete" and outcome.flagged is None
    assert fake_openai.moderated == ["hello", "Hello world"]
    assert await stored(runtime) == [
        ("user", "hello", "complete"),
        ("assistant", "Hello world", "complete"),
    ]


async def test_a_checked_reply_still_grows_in_segments(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    paragraphs = ("First part.\n\n", "Second part.\n\n", "Third part.")
    # Paced like a model, so each check is done before the next paragraph arrives.
    fake_openai.enqueue(Script(chunks=paragraphs, delay_between_chunks=0.1))
    sink, _ = await turn(runtime, "tell me in three parts")

    assert sink.text == "".join(paragraphs)
    assert sink.events.count("append") == 3
    # Each check sees the reply so far, so a flag needing context is not split away.
    assert fake_openai.moderated[1:] == [
        "First part.\n\n",
        "First part.\n\nSecond part.\n\n",
        "".join(paragraphs),
    ]


async def test_flagged_output_is_withheld_and_not_replayed(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    chunks = ("Fine so far.\n\n", f"then {MARKER}", " and more")
    fake_openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.1))
    sink, outcome = await turn(runtime, "go on")

    assert sink.text == "Fine so far.\n\n"
    assert MARKER not in sink.text
    assert isinstance(sink.error, ContentFlagged) and sink.error.direction == "output"
    assert "flagged by content moderation" in sink.error.user_message
    assert outcome.flagged == ModerationFlag("output", ("harassment/threatening", "violence"))
    assert await stored(runtime) == [
        ("user", "go on", "complete"),
        ("assistant", "Fine so far.\n\n", "failed"),
    ]

    fake_openai.default = echo_last_user
    await turn(runtime, "next", n=2)
    sent = fake_openai.requests[-1]["messages"]
    assert isinstance(sent, list)
    assert [m["content"] for m in sent[1:]] == ["[Alice] go on", "[Alice] next"]


async def test_a_reply_flagged_in_its_first_segment_shows_nothing(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=(f"{MARKER} right away",)))
    sink, outcome = await turn(runtime, "hi")

    assert sink.events == ["start", "fail"] and sink.text == ""
    assert outcome.status == "failed" and outcome.flagged is not None
    assert (await stored(runtime))[-1] == ("assistant", "", "failed")


async def test_input_only_moderation_streams_the_reply_unchecked(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    rest = asyncio.Event()
    fake_openai.enqueue(Script(chunks=("Hel", "lo ", MARKER), release_chunks=(rest, rest)))
    sink = RecordingSink()
    message = IncomingMessage("parley", key("inputs"), ALICE, "hi", "m1")
    handling = asyncio.create_task(runtime.engine.handle(message, sink))
    await sink.appended.wait()  # shown before the model sent the rest
    rest.set()
    outcome = await handling

    assert sink.events[:2] == ["start", "append"] and sink.events[-1] == "finish"
    assert sink.text == f"Hello {MARKER}"
    assert outcome.flagged is None
    assert fake_openai.moderated == ["hi"]


async def test_moderation_via_a_llamacpp_provider_is_skipped_and_said_at_start(
    config_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bots.app"):
        async with open_runtime(config_path) as runtime:
            sink, outcome = await turn(runtime, f"{MARKER} hi", key("local"))

    assert outcome.status == "complete" and sink.text == "Hello world"
    assert fake_openai.moderated == []
    notes = [r.getMessage() for r in caplog.records if "SKIPPED" in r.getMessage()]
    assert notes == [
        "persona local_checker: moderation SKIPPED: provider local is llama.cpp, "
        "which has no moderation endpoint"
    ]


async def test_an_endpoint_without_moderations_is_skipped_and_remembered(
    runtime: Runtime, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.moderation_status = 404
    with caplog.at_level(logging.WARNING, logger="core.moderation"):
        first, _ = await turn(runtime, f"{MARKER} one")
        second, _ = await turn(runtime, f"{MARKER} two", n=2)

    assert (first.text, second.text) == ("Hello world", "Hello world")
    assert len(fake_openai.requests) == 2
    assert fake_openai.moderated == [f"{MARKER} one"]  # asked once, then remembered
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "has no moderation endpoint" in warnings[0]


async def test_a_failing_check_lets_the_turn_through_with_a_warning(
    runtime: Runtime, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.moderation_status = 503
    with caplog.at_level(logging.WARNING, logger="core.moderation"):
        sink, outcome = await turn(runtime, "hello")

    assert outcome.status == "complete" and sink.text == "Hello world"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # the input check and the reply's: one each, then unchecked
    assert all("let through unchecked" in w and "console:local/general/t1" in w for w in warnings)
    assert "input" in warnings[0] and "output" in warnings[1]


def test_check_says_per_persona_what_is_moderated(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "moderation of input and output with omni-moderation-latest via fake" in out
    assert "moderation of input with omni-moderation-latest via fake" in out
    assert "moderation SKIPPED: provider local is llama.cpp" in out
