"""`parley run` as a real child process, for the tests that stop, kill or starve it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.fixtures import _PROXY_VARIABLES

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Parley:
    """A `parley run` child and the log lines it has written so far."""

    child: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def said(self, words: str) -> list[str]:
        return [line for line in self.lines if words in line]

    async def exit_code(self) -> int:
        """Waits for the child to end and for every line it wrote to be read."""
        code = await self.child.wait()
        if self.reader is not None:
            await self.reader
        return code


@contextlib.asynccontextmanager
async def parley_run(config: Path, **variables: str) -> AsyncIterator[Parley]:
    """`python -m cli run` with `variables` set; its stderr is read line by line; killed on
    the way out if still alive."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env.update(variables, PYTHONPATH=str(REPO_ROOT))
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "cli", "run", "--config", str(config)),
        cwd=config.parent,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    parley = Parley(child)

    async def read() -> None:
        assert child.stderr is not None
        async for line in child.stderr:
            parley.lines.append(line.decode(errors="replace").rstrip())

    parley.reader = asyncio.create_task(read())
    try:
        yield parley
    finally:
        if child.returncode is None:
            child.kill()
        await parley.exit_code()
