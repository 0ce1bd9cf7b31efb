"""Holds the live config and swaps it whole when the file changes and still checks out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from core.config.bots import PlatformModels
from core.config.document import Config
from core.config.loader import load_config
from core.errors import ConfigError

logger = logging.getLogger(__name__)

_Signature = tuple[int, int] | None


class ConfigHolder:
    """The current Config; a bad edit keeps the old one running and says why in one log line."""

    def __init__(
        self,
        path: Path,
        initial: Config,
        env: Mapping[str, str] | None = None,
        *,
        platforms: PlatformModels,
    ) -> None:
        self._path = path
        self._current = initial
        self._env = env
        self._platforms = platforms
        self._requested = asyncio.Event()
        self._running: dict[str, str] = {}  # bot name -> platform, of the bots serving now

    @property
    def current(self) -> Config:
        return self._current

    def hold_running(self, bots: Mapping[str, str]) -> None:
        """Name the bots (name -> platform) serving now; a reload must keep each of them.

        Their adapters were built from the old config and look themselves up by name, so a
        config without them would leave them answering nothing until a restart.
        """
        self._running = dict(bots)

    def reload(self) -> bool:
        """Re-read the file; True if the new config replaced the old one."""
        try:
            config = load_config(self._path, self._env, platforms=self._platforms)
        except ConfigError as exc:
            problems = "; ".join(str(issue) for issue in exc.issues)
            logger.warning("config reload failed, keeping the previous config: %s", problems)
            return False
        dropped = self._dropped(config)
        if dropped:
            logger.warning("config reload refused, keeping the previous config: %s", dropped)
            return False
        self._current = config
        logger.info("config reloaded from %s (%d bots)", self._path, len(config.bots))
        waiting = [
            bot.name for bot in config.bots if self._running and bot.name not in self._running
        ]
        if waiting:
            # Nothing starts them until a restart; say so rather than leave them silently idle.
            names = ", ".join(f"bot '{name}'" for name in waiting)
            verb, they = ("is", "it starts") if len(waiting) == 1 else ("are", "they start")
            logger.warning(
                "%s %s in the config but not running: %s on a restart", names, verb, they
            )
        return True

    def _dropped(self, config: Config) -> str:
        """Why `config` cannot replace the running one, or "" if it can."""
        platforms = {bot.name: bot.platform for bot in config.bots}
        running = dict(self._running)  # set on the event loop; this may run in a thread
        gone = [
            f"bot '{name}' ({kind})"
            for name, kind in running.items()
            if platforms.get(name) != kind
        ]
        if not gone:
            return ""
        verb, them = ("is", "it") if len(gone) == 1 else ("are", "them")
        return (
            f"{', '.join(gone)} {verb} running; renaming {them}, removing {them} "
            f"or moving {them} to another platform needs a restart"
        )

    def request_reload(self) -> None:
        """Ask the watcher to reload now (SIGHUP); safe to call on the event loop."""
        self._requested.set()

    async def watch(self, interval: float = 2.0) -> None:
        """Reload when the file's mtime or size changes, or on request; runs until cancelled.

        Every reload runs in a thread, one at a time: parsing a large or hostile file must
        not stall the bots, and two reloads must not race to swap the config.
        """
        seen = await asyncio.to_thread(self._signature)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._requested.wait(), interval)
            requested = self._requested.is_set()
            self._requested.clear()
            now = await asyncio.to_thread(self._signature)
            if now != seen or requested:
                seen = now
                await asyncio.to_thread(self._reload_surviving)

    def _reload_surviving(self) -> None:
        try:
            self.reload()
        except Exception as error:  # the watcher must outlive any one edit
            # One line, no traceback: the watcher goes on and the next edit gets its turn.
            logger.error("config reload failed, keeping the previous config: %r", error)

    def _signature(self) -> _Signature:
        try:
            stat = os.stat(self._path)
        except OSError:
            # A file mid-replace may vanish briefly; its return counts as a change.
            return None
        return (stat.st_mtime_ns, stat.st_size)
