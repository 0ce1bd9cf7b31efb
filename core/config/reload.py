"""Holds the live config and swaps it whole when the file changes and still checks out."""

from __future__ import annotations

import asyncio
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

    @property
    def current(self) -> Config:
        return self._current

    def reload(self) -> bool:
        """Re-read the file; True if the new config replaced the old one."""
        try:
            config = load_config(self._path, self._env, platforms=self._platforms)
        except ConfigError as exc:
            problems = "; ".join(str(issue) for issue in exc.issues)
            logger.warning("config reload failed, keeping the previous config: %s", problems)
            return False
        self._current = config
        logger.info("config reloaded from %s (%d bots)", self._path, len(config.bots))
        return True

    async def watch(self, interval: float = 2.0) -> None:
        """Reload whenever the file's mtime or size changes; runs until cancelled."""
        seen = await asyncio.to_thread(self._signature)
        while True:
            await asyncio.sleep(interval)
            now = await asyncio.to_thread(self._signature)
            if now != seen:
                seen = now
                await asyncio.to_thread(self.reload)

    def _signature(self) -> _Signature:
        try:
            stat = os.stat(self._path)
        except OSError:
            # A file mid-replace may vanish briefly; its return counts as a change.
            return None
        return (stat.st_mtime_ns, stat.st_size)
