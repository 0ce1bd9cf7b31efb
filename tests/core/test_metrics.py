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
    errors = frozenset({("bot", "team"), ("provider", ""), ("kind", "ParleyError")})
    assert found[("parley_errors_total", errors)] == 1
    assert not [key for key in found if key[0].startswith("parley_model_")]
    assert metrics.provider_outcomes() == {}


def test_two_runtimes_keep_separate_counts() -> None:
    first, second = Metrics(), Metrics()
    first.ended(report(None))
    turns = ("parley_turns_total", frozenset({("bot", "team"), ("outcome", "complete")}))
    assert samples(first)[turns] == 1
    assert turns not in samples(second)


def test_errors_are_counted_by_bot_provider_and_kind() -> None:
    metrics = Metrics()
    metrics.ended(report(RateLimited("429")))
    metrics.ended(report(RateLimited("429")))
    metrics.ended(report(ContextTooLong("too long")))
    found = samples(metrics)
    team_openai = frozenset({("bot", "team"), ("provider", "openai")})
    assert found[("parley_errors_total", team_openai | {("kind", "RateLimited")})] == 2
    assert found[("parley_errors_total", team_openai | {("kind", "ContextTooLong")})] == 1


def test_no_created_series_and_the_build_and_process_figures() -> None:
    metrics = Metrics(replica="web-2")
    metrics.ended(report(RateLimited("429")))
    text = metrics.exposition().decode()
    assert "_created" not in text
    found = samples(metrics)
    build = [labels for name, labels in found if name == "parley_build_info"]
    assert len(build) == 1 and dict(build[0])["python"].startswith("3.")
    assert dict(build[0])["replica"] == "web-2"
    assert found[("process_resident_memory_bytes", frozenset())] > 0
    assert any(name == "python_info" for name, _ in found)


def test_connections_are_read_at_each_scrape() -> None:
    metrics = Metrics()
    up = {"team": True}
    metrics.watch_connections({"team": lambda: up["team"]})
    connected = ("parley_bot_connected", frozenset({("bot", "team")}))
    assert samples(metrics)[connected] == 1
    up["team"] = False
    assert samples(metrics)[connected] == 0
    metrics.watch_connections({})
    assert connected not in samples(metrics)
