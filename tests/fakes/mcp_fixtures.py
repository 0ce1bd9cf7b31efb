"""The test MCP server (tests.fakes.mcp_tools_server) as configs Parley connects to: a stdio
child it starts itself, or a Streamable HTTP process on 127.0.0.1 the test starts and kills."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.config.tools import ToolServerConfig
from tests.fakes.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SERVER_MODULE = "tests.fakes.mcp_tools_server"


@dataclass
class ToolsServerFiles:
    """The files the test server writes: its call log and the flag `slow` raises."""

    directory: Path

    @property
    def call_log(self) -> Path:
        return self.directory / "calls.jsonl"

    @property
    def started_flag(self) -> Path:
        return self.directory / "slow-started"

    def env(self) -> dict[str, str]:
        return {"MCP_CALL_LOG": str(self.call_log), "MCP_STARTED_FLAG": str(self.started_flag)}

    def calls(self) -> list[dict[str, object]]:
        if not self.call_log.exists():
            return []
        lines = self.call_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    async def slow_started(self) -> int:
        """Waits until `slow` runs; the pid of the server process running it."""
        await wait_until(
            lambda: self.started_flag.exists() and self.started_flag.stat().st_size > 0
        )
        pid = int(self.started_flag.read_text(encoding="utf-8"))
        self.started_flag.unlink()
        return pid


def stdio_config(
    files: ToolsServerFiles, *, name: str = "docs", timeout: float = 30.0, **env: str
) -> ToolServerConfig:
    """The test server as a stdio child, run from the repository so `-m` finds it."""
    return ToolServerConfig(
        name=name,
        command=sys.executable,
        args=("-m", SERVER_MODULE, "stdio"),
        env=files.env() | env,
        cwd=REPO,
        timeout=timeout,
    )


def http_config(
    url: str, *, name: str = "docs", timeout: float = 30.0, **headers: str
) -> ToolServerConfig:
    return ToolServerConfig(name=name, url=url, timeout=timeout, headers=headers)


@dataclass
class HttpToolsServer:
    """The test server over Streamable HTTP in its own process, restartable on its port."""

    files: ToolsServerFiles
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        stderr = (self.files.directory / "http-server.stderr").open("ab")
        with stderr:
            self.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", SERVER_MODULE, "http", "--port", str(self.port)),
                cwd=REPO,
                env=env | self.files.env() | self.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        assert self.process.stdout is not None
        async with asyncio.timeout(60):  # a guard against a hung test, not a measurement
            line = (await self.process.stdout.readline()).decode()
        assert line.startswith("listening on "), f"the server said {line!r}"
        self.port = int(line.rsplit(":", 1)[1].split("/", 1)[0])

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.process = None
