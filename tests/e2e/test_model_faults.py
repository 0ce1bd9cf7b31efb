"""Hundreds of model faults through the engine: one short message each, nothing lost, and the
thread goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.app import open_runtime
from core.errors import (
    BadCredentials,
    ContextTooLong,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from tests.e2e.model_faults import (
    CEILING,
    KINDS,
    MAX_RETRIES,
    PARTIAL_TEXT,
    RETRYABLE,
    FaultyModel,
    Outcome,
    RefusingPort,
    Tally,
    run_faults,
    write_config,
)
from tests.fakes.openai_server import FakeOpenAI

PER_VARIANT = 14
ERRORS: dict[str, type[ModelError]] = {
    "429": RateLimited,
    "500": ProviderUnavailable,
    "503": ProviderUnavailable,
    "timeout": ModelTimeout,
    "cut": StreamInterrupted,
    "context": ContextTooLong,
    "auth": BadCredentials,
    "refused": ProviderUnavailable,
}


def check_first_turn(outcome: Outcome) -> None:
    case, sink = outcome.case, outcome.first
    assert sink.endings == 1, (case, sink.events)
    assert outcome.user_stored, case
    assert outcome.statuses == [("user", "complete"), ("assistant", case.expected)], case
    if case.expected == "complete":
        assert sink.events[-1] == "finish" and sink.text == f"fine: first {case.tag}", case
        return
    assert sink.events[-1] == "fail" and isinstance(sink.error, ERRORS[case.kind]), case
    notice = sink.error.user_message
    assert len(notice) < 120 and "\n" not in notice, notice
    assert outcome.seconds <= CEILING, (case, outcome.seconds)
    shown = "".join(PARTIAL_TEXT[:2]) if case.kind == "cut" else ""
    # What the user saw is what is stored: nothing more, nothing twice.
    assert sink.text == shown and outcome.reply == shown, case


def check_next_turn(outcome: Outcome) -> None:
    sink, case = outcome.next_turn, outcome.case
    assert sink is not None and sink.events[-1] == "finish", (case, sink)
    assert sink.endings == 1 and sink.text == f"fine: next {case.tag}", case
    assert outcome.next_statuses is not None
    assert outcome.next_statuses[-2:] == [("user", "complete"), ("assistant", "complete")]


async def test_hundreds_of_model_faults_each_end_in_one_short_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-faults")
    model = FaultyModel()
    down = RefusingPort()
    try:
        async with FakeOpenAI(default=model) as fake:
            config = write_config(tmp_path, fake.base_url, down.port)
            async with open_runtime(config) as runtime:
                outcomes = await run_faults(runtime, model, down, PER_VARIANT, "team")
    finally:
        down.release()
    for outcome in outcomes:
        check_first_turn(outcome)
        check_next_turn(outcome)
    tally = Tally(model, outcomes)
    attempts = MAX_RETRIES + 1
    for kind in KINDS:
        persistent = (
            0 if kind == "refused" else PER_VARIANT * (attempts if kind in RETRYABLE else 1)
        )
        transient = PER_VARIANT if kind in RETRYABLE else 0
        assert tally.injected[kind] == persistent + transient, kind
        assert tally.endings[(kind, "absorbed")] == transient, kind
        shown = "partial" if kind == "cut" else "failed"
        assert tally.endings[(kind, shown)] == PER_VARIANT, kind
    assert tally.total >= 200
