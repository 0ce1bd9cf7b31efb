"""Core's CPU per streamed chunk: the model client alone, and a whole turn into a plain sink.

Run: .venv/bin/python -m bench.stream_cpu [--turns 8] [--chunks 352]

The fake model runs in another process and streams the turn benchmarks' 396-token reply
(bench/streamed_reply.py) at their pace, a chunk every 11 ms or so, as OpenAI does; Parley
reads what came at most every 40 ms (core/model_http.py). "client" is iterating
`ModelClient.stream` (HTTP, SSE, JSON, the think filter); "turn" is `Engine.handle` with a
sink that only records (client, limits, the moderation gate, storing): what core spends on a
reply before any platform sees it.
Figures are CPU seconds of this process (`time.process_time`), median over the turns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.streamed_reply import DEFAULT_CHUNKS
from bench.turns import HELPER_ON_FAKE_MODEL, STORAGE
from bots import event_loop
from bots.app import open_runtime
from core.llm import ModelRequest
from core.providers import ModelClients
from core.types import Author, ConversationKey, IncomingMessage, PromptMessage
from tests.fakes.sinks import RecordingSink

CONFIG = (
    HELPER_ON_FAKE_MODEL + "bots: [{{name: team, platform: console, persona: helper}}]\n" + STORAGE
)

SERVE_FAKE = (
    "import asyncio, sys\n"
    "from bench.streamed_reply import reply\n"
    "from tests.fakes.openai_server import FakeOpenAI\n"
    "async def main():\n"
    "    async with FakeOpenAI(default=reply(int(sys.argv[1]))) as fake:\n"
    "        print(fake.base_url, flush=True)\n"
    "        await asyncio.Event().wait()\n"
    "asyncio.run(main())\n"
)


async def client_cpu(runtime_config: Path, turns: int) -> list[float]:
    models = ModelClients()
    async with open_runtime(runtime_config, models=models) as runtime:
        config = runtime.config.current
        persona = config.personas["helper"]
        client = models.get(config.providers[persona.provider])
        request = ModelRequest(model=persona.model, messages=(PromptMessage("user", "hi"),))
        figures = []
        for _ in range(turns):
            cpu = time.process_time()
            async for _event in client.stream(request):
                pass
            figures.append(time.process_time() - cpu)
        return figures


async def turn_cpu(runtime_config: Path, turns: int) -> list[float]:
    async with open_runtime(runtime_config) as runtime:
        figures = []
        for n in range(turns):
            message = IncomingMessage(
                bot="team",
                key=ConversationKey("slack", "T1", "C1", f"1700000{n:03d}.000100"),
                author=Author("U1", "Alice"),
                text=f"question {n}",
                message_id=f"m{n}",
            )
            sink = RecordingSink()
            cpu = time.process_time()
            await runtime.engine.handle(message, sink)
            figures.append(time.process_time() - cpu)
            assert sink.summary is not None, sink.error
        return figures


async def main(turns: int, chunks: int) -> None:
    fake = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_FAKE, str(chunks), stdout=asyncio.subprocess.PIPE
    )
    assert fake.stdout is not None
    base_url = (await fake.stdout.readline()).decode().strip()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            os.environ["PARLEY_TEST_KEY"] = "sk-bench"
            config = Path(scratch) / "bots.yaml"
            config.write_text(CONFIG.format(openai_url=base_url))
            await client_cpu(config, 1)  # connections, caches
            for name, figures in (
                ("client", await client_cpu(config, turns)),
                ("turn", await turn_cpu(config, turns)),
            ):
                median = statistics.median(figures)
                print(
                    f"{name:>6}: CPU per {chunks}-chunk reply median {median * 1000:.1f} ms "
                    f"({median / chunks * 1e6:.0f} µs a chunk; "
                    f"min {min(figures) * 1000:.1f}, max {max(figures) * 1000:.1f} ms, "
                    f"{turns} replies)"
                )
    finally:
        fake.terminate()
        await fake.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS)
    options = parser.parse_args()
    event_loop.run(main(options.turns, options.chunks))
