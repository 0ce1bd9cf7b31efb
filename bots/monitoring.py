"""`parley run`'s HTTP endpoint: /healthz for containers, /metrics for Prometheus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from core.config import Config
from core.engine import ConfigSource
from core.metrics import OK, UNKNOWN, Metrics
from core.store import Store

log = logging.getLogger(__name__)

# Well under the 5 s a container health check allows; a writer holding the lock longer is stuck.
DATABASE_TIMEOUT = 0.5


class Connectable(Protocol):
    """A bot adapter that can say whether its platform connection is up now."""

    @property
    def connected(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # "database", "bot:NAME" or "provider:NAME"
    ok: bool
    detail: str


class Monitor:
    """Answers /healthz from live checks and /metrics from the runtime's registry."""

    def __init__(self, config: ConfigSource, metrics: Metrics, store: Store) -> None:
        self._config = config
        self._metrics = metrics
        self._store = store
        self._bots: dict[str, Connectable] = {}
        self.port: int | None = None  # the bound port while serving (port 0 picks one)

    def watch(self, bots: Mapping[str, Connectable]) -> None:
        """The bots whose connection /healthz and `parley_bot_connected` report, by name."""
        self._bots = dict(bots)
        self._metrics.watch_connections(
            {name: _connected_now(bot) for name, bot in self._bots.items()}
        )

    async def checks(self) -> list[Check]:
        config = self._config.current
        problem = await self._store.probe(DATABASE_TIMEOUT)
        checks = [Check("database", problem is None, problem or "writable")]
        for name, bot in self._bots.items():
            up = bot.connected
            checks.append(Check(f"bot:{name}", up, "connected" if up else "disconnected"))
        return checks + _provider_checks(config, self._metrics.provider_outcomes())

    async def serve(self) -> None:
        """Serves until cancelled; a port it cannot bind is logged once and the bots go on."""
        settings = self._config.current.monitoring
        if not settings.enabled:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.host, settings.port).start()
        except OSError as error:
            log.error(
                "health and metrics endpoint not started on %s:%s: %s; the bots keep running",
                settings.host, settings.port, error.strerror or error,
            )  # fmt: skip
            await runner.cleanup()
            return
        self.port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
        log.info(
            "health and metrics on http://%s:%s/healthz and /metrics", settings.host, self.port
        )
        try:
            await asyncio.Event().wait()
        finally:
            self.port = None
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        checks = await self.checks()
        failing = [check.name for check in checks if not check.ok]
        body = {
            "status": "unhealthy" if failing else "ok",
            "replica": self._store.coordination.replica,
            "failing": failing,
            "checks": {check.name: check.detail for check in checks},
        }
        return web.json_response(body, status=503 if failing else 200)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.exposition())
        response.headers["Content-Type"] = self._metrics.content_type
        return response


def _connected_now(bot: Connectable) -> Callable[[], bool]:
    return lambda: bot.connected


def _provider_checks(config: Config, outcomes: Mapping[str, str]) -> list[Check]:
    """A provider is healthy until its most recent call fails; one never used is unknown."""
    checks = []
    for name in config.providers:
        outcome = outcomes.get(name, UNKNOWN)
        checks.append(Check(f"provider:{name}", outcome in (OK, UNKNOWN), outcome))
    return checks
