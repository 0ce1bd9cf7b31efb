"""Hundreds of model faults through the engine: one short message each, nothing lost, and the
thread goes on."""

from __future__ import annotations

import logging
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
    BACKOFF_CEILING,
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
    shown = "".join(PARTIAL_TEXT[:2]) if case.kind == "cut" else ""
    # What the user saw is what is stored: nothing more, nothing twice.
    assert sink.text == shown and outcome.reply == shown, case


def check_retries(model: FaultyModel, outcomes: list[Outcome], waits: list[float]) -> None:
    """What bounds a user's wait, counted rather than clocked: how many requests each first
    message made at the fake, and how long the client said it would back off each time."""
    for outcome in outcomes:
        case = outcome.case
        assert model.attempts[f"first {case.tag}"] == case.attempts, case
    retryable_cases = sum(1 for o in outcomes if o.case.kind in (*RETRYABLE, "refused"))
    assert 0 < len(waits) <= retryable_cases * MAX_RETRIES
    assert all(0 <= wait <= BACKOFF_CEILING for wait in waits), waits


def retry_waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The backoff of every retry, from the model client's "retrying in %.2fs" line."""
    return [
        float(record.args[0])  # type: ignore[arg-type]  # logging types args loosely; [0] is the wait
        for record in caplog.records
        if record.name == "core.llm"
        and record.msg.startswith("model call failed, retrying")
        and isinstance(record.args, tuple)
    ]


def check_next_turn(outcome: Outcome) -> None:
    sink, case = outcome.next_turn, outcome.case
    assert sink is not None and sink.events[-1] == "finish", (case, sink)
    assert sink.endings == 1 and sink.text == f"fine: next {case.tag}", case
    assert outcome.next_statuses is not None
    assert outcome.next_statuses[-2:] == [("user", "complete"), ("assistant", "complete")]


async def test_hundreds_of_model_faults_each_end_in_one_short_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-faults")
    caplog.set_level(logging.WARNING, logger="core.llm")
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
    check_retries(model, outcomes, retry_waits(caplog))
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
