"""Engine overhead per tool round: what Parley adds around a tool call, the model's and the
tool's own time left out, with the MCP server on loopback.

Run: .venv/bin/python -m bench.tool_rounds [--turns 200] [--tool-rounds 3] [--rounds 3]
     [--transport stdio|http]

The model is the fake OpenAI server in its own process, answering at once: each turn asks for
`docs.search` (read-only: it runs without asking) `--tool-rounds` times, then answers in text.
The tool is the MCP test server's `search`, which returns at once. Per turn, the overhead is
its wall time minus the time spent inside the model client's stream; the same turn without
tools gives the engine's base; per tool round = (with tools - median base) / tool rounds.
That figure includes the MCP round trip (the SDK's client, the pipe or HTTP, the server's
framing), which is printed on its own too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.engine_overhead import TimedClient, percentile
from bots import event_loop
from bots.app import open_runtime
from core.config import ProviderConfig
from core.llm import ModelClient
from core.providers import ModelClients, client_for
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY
from tests.fakes.sinks import RecordingSink

# A model that asks for docs.search until the turn has had `rounds` results, then answers;
# without tools offered it answers at once.
SERVE_FAKE = """\
import asyncio, sys
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import asking_for_tools
ROUNDS = int(sys.argv[1])
def answer(body):
    messages = body["messages"]
    since_user = 0
    for message in reversed(messages):
        if message["role"] == "user":
            break
        since_user += message["role"] == "tool"
    if body.get("tools") and since_user < ROUNDS:
        return asking_for_tools(("docs__search", {"query": "deploy"}))
    return Script(chunks=("Sure, ", "here you go."))
async def main():
    async with FakeOpenAI(default=answer) as fake:
        print(fake.base_url, flush=True)
        while True:
            await asyncio.sleep(0.5)
            fake.requests.clear()
            fake.authorizations.clear()
asyncio.run(main())
"""

CONFIG = """\
providers:
  fake: {{base_url: "{base_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 5}}
tools:
  docs: {server}
personas:
  tooled: {{system_prompt: "You help.", model: gpt-4o-mini, provider: fake, tools: [docs.*]}}
  plain: {{system_prompt: "You help.", model: gpt-4o-mini, provider: fake}}
bots:
  - {{name: tooled, platform: console, persona: tooled}}
  - {{name: plain, platform: console, persona: plain}}
limits: {{tool_rounds: {rounds}}}
storage: {{path: "{database}"}}
"""


def server_entry(transport: str, url: str) -> str:
    if transport == "http":
        return f'{{url: "{url}"}}'
    root = Path(__file__).parents[1]  # where `tests` imports from
    return (
        f'{{command: "{sys.executable}", args: [-m, tests.fakes.mcp_tools_server, stdio],'
        f' cwd: "{root}"}}'
    )


@contextlib.asynccontextmanager
async def child(*args: str) -> AsyncIterator[str]:
    """A helper process and the first line it prints (its address)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        yield (await process.stdout.readline()).decode().strip()
    finally:
        process.terminate()
        await process.wait()


async def measure(config: Path, bot: str, turns: int, tool_rounds: int) -> list[float]:
    """Per turn: wall time minus time inside the model's streams, in ms."""
    clients: list[TimedClient] = []

    def timed_factory(provider: ProviderConfig) -> ModelClient:
        clients.append(TimedClient(client_for(provider)))
        return clients[-1]

    overheads: list[float] = []
    async with open_runtime(config, models=ModelClients(timed_factory)) as runtime:
        for i in range(turns + 20):
            key = ConversationKey("console", "local", bot, f"thread-{i}")
            message = IncomingMessage(bot, key, Author("U1", "Alice"), f"deploy? {i}", f"m{i}")
            waited_before = sum(client.waiting for client in clients)
            started = time.perf_counter()
            sink = RecordingSink()
            outcome = await runtime.engine.handle(message, sink)
            total = time.perf_counter() - started
            assert outcome.status == "complete", outcome
            # A server that did not start would leave a plain turn: nothing measured.
            assert bot == "plain" or sum(s.state == "ok" for s in sink.steps) == tool_rounds
            waited = sum(client.waiting for client in clients) - waited_before
            if i >= 20:  # the first turns open connections and start the server
                overheads.append((total - waited) * 1000)
    return overheads


async def main(turns: int, tool_rounds: int, rounds: int, transport: str) -> None:
    os.environ["PARLEY_TEST_KEY"] = TEST_KEY
    async with (
        child("-c", SERVE_FAKE, str(tool_rounds)) as base_url,
        child("-m", "tests.fakes.mcp_tools_server", "http", "--port", "0") as listening,
    ):
        url = listening.removeprefix("listening on ")
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "bots.yaml"
            config.write_text(
                CONFIG.format(
                    base_url=base_url,
                    server=server_entry(transport, url),
                    rounds=tool_rounds,
                    database=Path(scratch) / "parley.db",
                )
            )
            figures = []
            for number in range(1, rounds + 1):
                base = statistics.median(await measure(config, "plain", turns, 0))
                tooled = await measure(config, "tooled", turns, tool_rounds)
                per_round = [(overhead - base) / tool_rounds for overhead in tooled]
                figures.append((statistics.median(per_round), percentile(per_round, 0.99), base))
                print(
                    f"round {number}: per tool round p50 {figures[-1][0]:.2f} ms, p99 "
                    f"{figures[-1][1]:.2f} ms (turn without tools: {base:.2f} ms; {turns} turns)"
                )
    p50, p99, base = (statistics.median(column) for column in zip(*figures, strict=True))
    print(
        f"median of {rounds} rounds ({transport}): engine overhead per tool round p50 "
        f"{p50:.2f} ms, p99 {p99:.2f} ms; a turn without tools {base:.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="measured turns per round")
    parser.add_argument("--tool-rounds", type=int, default=3, help="tool rounds per turn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    arguments = parser.parse_args()
    event_loop.run(
        main(arguments.turns, arguments.tool_rounds, arguments.rounds, arguments.transport)
    )
