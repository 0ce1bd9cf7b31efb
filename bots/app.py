"""The composition root: config → store → model clients → engine → adapters, wired once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bots.config_models import config_models, load_config
from bots.monitoring import Monitor
from bots.platforms import KEPT_SCOPES, BotRunner, adapter_factory
from bots.replica import replica_name
from bots.restart_notes import leftover_notes, post_once_connected
from bots.tasks import CLOSE_MARGIN_SECONDS, Shutdown, cancel_and_wait
from bots.warm_up import warm_up, warm_up_once_connected
from core.config import BotConfig, ConfigHolder
from core.engine import Engine
from core.errors import ParleyError, StoreError
from core.metrics import Metrics
from core.moderation import Moderation, skipped_moderation
from core.providers import ModelClients
from core.retention import keep_pruning
from core.store import Store
from core.store.opening import open_store
from core.tokens import Tokenizers
from core.tools.exchange import settle_unfinished
from core.tools.host import ToolHostRunning
from core.turn.rows import INTERRUPTED

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    config: ConfigHolder
    store: Store
    engine: Engine
    metrics: Metrics
    monitor: Monitor
    tokenizers: Tokenizers
    models: ModelClients


@contextlib.asynccontextmanager
async def open_runtime(
    config_path: Path, *, models: ModelClients | None = None, model_side_now: bool = True
) -> AsyncIterator[Runtime]:
    """Everything a command needs to hold conversations; closed in reverse on the way out.

    `models` lets a benchmark wrap the real clients; everything else is always real.
    `model_side_now=False` leaves the model clients to be built later:
    `parley run` loads them once its bots are connected (run_bots), not before.
    """
    config = load_config(config_path)
    holder = ConfigHolder(config_path, config, platforms=config_models())
    store = await open_store(config.storage, replica=replica_name())
    tokenizers = Tokenizers()
    models = models or ModelClients()
    if model_side_now:
        # Before the first message, so the first turn is as fast as the rest.
        await asyncio.to_thread(warm_up, config, models)
    for note in skipped_moderation(config):
        log.warning("%s", note)
    moderation = Moderation()
    metrics = Metrics(replica=store.coordination.replica)
    tools = ToolHostRunning(config.tools) if config.tools else None
    if tools is not None:
        tools.begin()
    engine = Engine(
        config=holder,
        store=store,
        models=models,
        tokenizers=tokenizers,
        moderation=moderation,
        observer=metrics,
        tools=tools,
        coordination=store.coordination,
    )
    watcher = asyncio.create_task(holder.watch(), name="config-watch")
    pruner = asyncio.create_task(
        keep_pruning(store, lambda: holder.current.storage, KEPT_SCOPES),
        name="retention",
    )
    _reload_on_sighup(holder)
    try:
        monitor = Monitor(holder, metrics, store)
        yield Runtime(holder, store, engine, metrics, monitor, tokenizers, models)
    finally:
        _stop_reloading_on_sighup()
        for task in (watcher, pruner):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if tools is not None:
            await tools.close()
        await models.close()
        await moderation.close()
        await store.close()


async def run_bots(runtime: Runtime, bots: list[BotConfig]) -> bool:
    """Serves every bot in one process, and /healthz and /metrics beside them (until the
    last bot stops); one adapter failing does not stop the others.

    True when asked to stop (SIGTERM or SIGINT); False when no bot was left running, which a
    service manager must see as a failure (Restart=on-failure).
    """
    coordination = runtime.store.coordination
    if not await coordination.hold(f"replica:{coordination.replica}"):
        log.error(
            "another Parley replica named %r is serving %s; give each replica its own "
            "PARLEY_REPLICA",
            coordination.replica, runtime.config.current.storage.describe(),
        )  # fmt: skip
        return False
    shutdown = Shutdown(grace=runtime.config.current.limits.shutdown_seconds)
    runners = [
        adapter_factory(bot.platform)(
            bot,
            runtime.engine,
            api_calls=runtime.metrics.api_calls(bot.platform),
            shutdown=shutdown,
        )
        for bot in bots
    ]
    leftovers = await leftover_notes(runtime.store, [bot.name for bot in bots])
    await mark_interrupted(runtime, [bot.name for bot in bots])
    runtime.config.hold_running({bot.name: bot.platform for bot in bots})
    runtime.monitor.watch({bot.name: runner for bot, runner in zip(bots, runners, strict=True)})
    monitor = asyncio.create_task(runtime.monitor.serve(), name="monitoring")
    # The model side, if open_runtime left it for later; otherwise there is nothing to load.
    warming = asyncio.create_task(
        warm_up_once_connected(runners, runtime.config.current, runtime.models),
        name="warm-up",
    )
    noting = asyncio.create_task(
        post_once_connected(dict(zip((b.name for b in bots), runners, strict=True)), leftovers),
        name="restart-notes",
    )
    stop = StopRequest()
    _on_stop_signals(stop)
    serving = [
        asyncio.create_task(_supervise(bot, runner), name=f"bot:{bot.name}")
        for bot, runner in zip(bots, runners, strict=True)
    ]
    stopping = asyncio.create_task(stop.requested.wait(), name="stop-signal")
    losing = asyncio.create_task(coordination.lost.wait(), name="coordination-lost")
    try:
        await _serve_until_stopped(serving, stopping, losing, coordination.replica)
    finally:
        runtime.config.hold_running({})
        # A second signal while the replies finish changes nothing: the wait is bounded.
        # Each bot stops listening, drains its own turns (shutdown.grace) and closes its
        # connections, before the store closes behind it.
        background = (stopping, losing, monitor, warming, noting)
        await cancel_and_wait((*serving, *background), shutdown.grace + CLOSE_MARGIN_SECONDS)
        _stop_signals_off()
    if stop.signal is not None:
        log.info("%s", stop.summary(shutdown))
    return stop.requested.is_set()


async def _serve_until_stopped(
    serving: list[asyncio.Task[None]],
    stopping: asyncio.Task[bool],
    losing: asyncio.Task[bool],
    replica: str,
) -> None:
    """Until a stop signal, every bot stopped (each on its own), or the roles this replica
    claimed are lost (its coordination connection died): another replica may hold its
    Discord shards by now and only a new start claims them again, so its supervisor must
    restart it."""
    pending: set[asyncio.Task[Any]] = {*serving, stopping, losing}
    while not stopping.done():
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            return
        if losing.done():
            log.error(
                "replica %s lost its claims on the database; stopping so that its "
                "supervisor starts it again",
                replica or "(unnamed)",
            )
            return
        if not any(task in pending for task in serving):
            log.error("no bot is running any more; stopping")
            return


class StopRequest:
    """`docker stop` and systemd send SIGTERM, a terminal's Ctrl-C SIGINT: either asks for
    the same stop, never mid-write; the first one is remembered for the log line."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.signal: signal.Signals | None = None
        self._at = 0.0

    def __call__(self, received: signal.Signals) -> None:
        if self.signal is None:
            self.signal = received
            self._at = time.monotonic()
        self.requested.set()

    def summary(self, shutdown: Shutdown) -> str:
        name = self.signal.name if self.signal is not None else "stop"
        took = time.monotonic() - self._at
        return (
            f"{name}: stopped in {took:.1f}s; replies in flight: {shutdown.finished} finished, "
            f"{shutdown.cut} cut and marked interrupted "
            f"(limits.shutdown_seconds {shutdown.grace:g})"
        )


async def mark_interrupted(runtime: Runtime, names: list[str]) -> None:
    """Before serving: replies a killed run left "in progress" are marked interrupted.

    Only these bots' rows: another process on the same file may be mid-turn right now.
    """
    try:
        marked = await runtime.store.mark_interrupted(
            names, datetime.now(UTC), INTERRUPTED, settle_unfinished
        )
    except StoreError as error:
        # A locked or damaged file must not keep the bots from serving; /healthz says more.
        log.warning("unfinished replies of a stopped run were not marked: %s", error)
        return
    if marked:
        log.warning("%d replies were left unfinished by a stopped run; marked interrupted", marked)


async def _supervise(bot: BotConfig, runner: BotRunner) -> None:
    try:
        await runner.run()
    except ParleyError as error:
        # Ours say what to fix in one line; a traceback would bury it.
        log.error("bot %s stopped: %s", bot.name, error)
    except Exception:
        log.exception("bot %s stopped with an error", bot.name)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _on_stop_signals(stop: Callable[[signal.Signals], None]) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop = asyncio.get_running_loop()
        for stop_signal in STOP_SIGNALS:
            loop.add_signal_handler(stop_signal, stop, stop_signal)


def _stop_signals_off() -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop = asyncio.get_running_loop()
        for stop_signal in STOP_SIGNALS:
            loop.remove_signal_handler(stop_signal)


def _reload_on_sighup(holder: ConfigHolder) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        # The watcher reloads in a thread; parsing here would stall every bot meanwhile.
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, holder.request_reload)


def _stop_reloading_on_sighup() -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
