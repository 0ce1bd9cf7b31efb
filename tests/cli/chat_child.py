"""`parley chat` as a child process fed through a pipe, read as it writes (prompts end no line)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import TEST_KEY
from tests.fakes.fixtures import _PROXY_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
GUARD = 120.0  # against a hung test; a loaded machine never gets near it


@dataclass
class ChatChild:
    """The child, everything it wrote so far, and where the test has read up to."""

    process: asyncio.subprocess.Process
    out: str = ""
    seen_up_to: int = 0

    async def shows(self, text: str) -> str:
        """Waits until `text` appears after what was already seen; returns the output
        between, and moves past it."""

        async def arrived() -> int:
            assert self.process.stdout is not None
            while (found := self.out.find(text, self.seen_up_to)) < 0:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"output ended before {text!r}:\n{self.out}")
                self.out += chunk.decode()
            return found

        try:
            found = await asyncio.wait_for(arrived(), GUARD)
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {GUARD} s:\n{self.out}") from None
        between = self.out[self.seen_up_to : found]
        self.seen_up_to = found + len(text)
        return between

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    def ctrl_c(self) -> None:
        self.process.send_signal(signal.SIGINT)

    async def exit_code(self) -> int:
        """Waits for the end, reading the rest of the output."""
        assert self.process.stdout is not None
        self.out += (await asyncio.wait_for(self.process.stdout.read(), GUARD)).decode()
        return await asyncio.wait_for(self.process.wait(), GUARD)


@contextlib.asynccontextmanager
async def chat_child(config: Path, *args: str, **variables: str) -> AsyncIterator[ChatChild]:
    """`python -m cli chat --config CONFIG ARGS` as alice; killed on the way out if alive."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env.update(PARLEY_TEST_KEY=TEST_KEY, USER="alice", PYTHONPATH=str(ROOT))
    env.update(variables)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "chat", "--config", str(config), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=config.parent,
    )  # fmt: skip
    try:
        yield ChatChild(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def stored_replies(config: Path) -> list[tuple[str, str, str]]:
    """(status, content, error) of every assistant row, oldest first."""
    database = config.parent / "data" / "parley.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT status, content, error FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    return [(str(status), str(content), str(error)) for status, content, error in rows]
