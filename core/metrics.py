"""Prometheus metrics of one runtime, and each provider's last outcome for /healthz."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

from core.errors import ContextTooLong, ModelError
from core.turn import TurnReport
from core.types import Rating
from core.version import parley_version

# Records one HTTP response a platform's API sent, by status code.
ApiCalls = Callable[[int], None]

# Seconds; local models on a CPU take tens of seconds for a long reply.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
UNKNOWN = "unknown"  # a provider no turn has used yet
OK = "ok"


def ignore_api_calls(status: int) -> None:
    """The adapters' default when nobody counts their API calls."""


class Metrics:
    """A TurnObserver with its own registry, so runtimes and tests never share counters.

    Labels are names from bots.yaml (bots, providers, models) and error class names:
    bounded, unlike conversation, user or channel ids, which never appear here.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, replica: str = "") -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        # RSS, CPU seconds, start time and open fds (from /proc, so Linux only), and python_info.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        # The replica's name rides on this one series only: a label on every series would
        # multiply them by the replicas, and Prometheus's own `instance` tells them apart.
        build = Gauge(
            "parley_build_info",
            "Always 1; the labels say which Parley and Python run, and as which replica.",
            ["version", "python", "replica"], registry=registry,
        )  # fmt: skip
        build.labels(parley_version(), platform.python_version(), replica).set(1)
        self._connected = Gauge(
            "parley_bot_connected", "1 while the bot's platform connection is up, else 0.",
            ["bot"], registry=registry,
        )  # fmt: skip
        self._turns = Counter(
            "parley_turns", "Turns by bot and outcome (complete, partial, failed).",
            ["bot", "outcome"], registry=registry,
        )  # fmt: skip
        self._errors = Counter(
            "parley_errors", "Failed turns by bot, provider (empty: failed before one was "
            "chosen) and error kind.", ["bot", "provider", "kind"], registry=registry,
        )  # fmt: skip
        self._first_token = Histogram(
            "parley_model_first_token_seconds", "From the message to the reply's first text.",
            ["provider", "model"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._total = Histogram(
            "parley_model_reply_seconds", "From the message to the end of the reply.",
            ["provider", "model"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._tokens = Counter(
            "parley_model_tokens", "Tokens the provider reported, by kind (prompt, "
            "completion, cached; cached is part of prompt).", ["model", "kind"], registry=registry,
        )  # fmt: skip
        self._active = Gauge("parley_active_turns", "Turns in progress now.", registry=registry)
        self._api_calls = Counter(
            "parley_platform_api_calls", "HTTP requests to a chat platform's API, by platform.",
            ["platform"], registry=registry,
        )  # fmt: skip
        self._rate_limited = Counter(
            "parley_platform_api_rate_limited", "Platform API responses with status 429.",
            ["platform"], registry=registry,
        )  # fmt: skip
        self._feedback = Counter(
            "parley_feedback", "👍/👎 given to replies, by persona and rating (up, down); "
            "a changed mind counts again.", ["persona", "rating"], registry=registry,
        )  # fmt: skip
        self._providers: dict[str, str] = {}

    @contextlib.asynccontextmanager
    async def active(self) -> AsyncIterator[None]:
        self._active.inc()
        try:
            yield
        finally:
            self._active.dec()

    def ended(self, report: TurnReport) -> None:
        self._turns.labels(report.bot, report.status).inc()
        if report.error is not None:
            kind = type(report.error).__name__
            self._errors.labels(report.bot, report.provider or "", kind).inc()
        if report.provider is None or report.model is None:
            return
        self._remember_provider(report.provider, report.error)
        if report.first_token is not None:
            self._first_token.labels(report.provider, report.model).observe(report.first_token)
        self._total.labels(report.provider, report.model).observe(report.seconds)
        if report.usage is not None:
            usage = report.usage
            self._tokens.labels(report.model, "prompt").inc(usage.prompt_tokens)
            self._tokens.labels(report.model, "completion").inc(usage.completion_tokens)
            self._tokens.labels(report.model, "cached").inc(usage.cached_tokens)

    def rated(self, persona: str, rating: Rating) -> None:
        self._feedback.labels(persona, rating).inc()

    def _remember_provider(self, provider: str, error: Exception | None) -> None:
        # A too-long conversation was answered by a reachable provider; other failures
        # (adapter, config) say nothing about the provider and leave its outcome alone.
        if error is None or isinstance(error, ContextTooLong):
            self._providers[provider] = OK
        elif isinstance(error, ModelError):
            self._providers[provider] = type(error).__name__

    def provider_outcomes(self) -> Mapping[str, str]:
        """Provider name to "ok" or the ModelError kind of its most recent call."""
        return dict(self._providers)

    def watch_connections(self, connected: Mapping[str, Callable[[], bool]]) -> None:
        """`parley_bot_connected` for these bots (replacing any before), read at each scrape."""
        self._connected.clear()
        for bot, is_up in connected.items():
            self._connected.labels(bot).set_function(_as_number(is_up))

    def api_calls(self, platform: str) -> ApiCalls:
        calls, limited = self._api_calls.labels(platform), self._rate_limited.labels(platform)

        def record(status: int) -> None:
            calls.inc()
            if status == 429:
                limited.inc()

        return record

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(_WithoutCreated(self.registry))


def _as_number(is_up: Callable[[], bool]) -> Callable[[], float]:
    return lambda: float(is_up())


class _WithoutCreated:
    """A registry's metrics without the `_created` samples prometheus_client adds to each
    counter and histogram: a timestamp series per label set that doubles what Prometheus
    stores and that nothing here uses. Dropped at scrape time rather than with
    disable_created_metrics(), which switches them off for the whole process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            created = f"{family.name}_created"
            family.samples = [sample for sample in family.samples if sample.name != created]
            yield family
