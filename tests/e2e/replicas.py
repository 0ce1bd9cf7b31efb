"""Several Parley replicas on one PostgreSQL inside one test process: each a runtime of its
own, as `parley run` opens it, holding its replica name as `parley run` does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import Runtime, open_runtime
from tests.e2e.conftest import write_config


def replica_config(directory: Path, base_url: str, database_url: str) -> Path:
    """The end-to-end config, its storage on PostgreSQL."""
    path = write_config(directory, base_url)
    text = path.read_text()
    start = text.index("storage:")
    path.write_text(text[:start] + f"storage:\n  url: {database_url}\n")
    return path


@contextlib.asynccontextmanager
async def replicas(
    config: Path, names: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[Runtime]]:
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for name in names:
            monkeypatch.setenv("PARLEY_REPLICA", name)
            runtime = await stack.enter_async_context(open_runtime(config))
            assert await runtime.store.coordination.hold(f"replica:{name}")
            opened.append(runtime)
        yield opened
