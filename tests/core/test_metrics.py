"""What a turn's report does to the metrics and to its provider's health outcome."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from core.errors import ContextTooLong, ParleyError, RateLimited
from core.metrics import Metrics
from core.turn import TurnReport
from core.types import MessageStatus, Usage


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def report(error: ParleyError | None, provider: str | None = "openai") -> TurnReport:
    status: MessageStatus = "complete" if error is None else "failed"
    model = None if provider is None else "gpt-4o"
    return TurnReport("team", status, error, 1.5, provider, model, 0.4, Usage(30, 5, 10))


def test_a_provider_is_unknown_until_used_and_then_follows_its_last_call() -> None:
    metrics = Metrics()
    assert metrics.provider_outcomes() == {}
    metrics.ended(report(RateLimited("429")))
    assert metrics.provider_outcomes() == {"openai": "RateLimited"}
    # Neither an adapter's failure nor a too-long thread says the provider is down.
    metrics.ended(report(ParleyError("the post failed")))
    assert metrics.provider_outcomes() == {"openai": "RateLimited"}
    metrics.ended(report(ContextTooLong("too long")))
    assert metrics.provider_outcomes() == {"openai": "ok"}


def test_a_turn_failing_before_the_model_counts_but_measures_no_model() -> None:
    metrics = Metrics()
    metrics.ended(report(ParleyError("no such bot"), provider=None))
    found = samples(metrics)
    assert found[("parley_turns_total", frozenset({("bot", "team"), ("outcome", "failed")}))] == 1
    assert found[("parley_errors_total", frozenset({("kind", "ParleyError")}))] == 1
    assert not [key for key in found if key[0].startswith("parley_model_")]
    assert metrics.provider_outcomes() == {}


def test_two_runtimes_keep_separate_counts() -> None:
    first, second = Metrics(), Metrics()
    first.ended(report(None))
    turns = ("parley_turns_total", frozenset({("bot", "team"), ("outcome", "complete")}))
    assert samples(first)[turns] == 1
    assert turns not in samples(second)
