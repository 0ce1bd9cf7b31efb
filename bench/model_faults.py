"""Injects model faults through the engine and prints what each kind did: a table for
RELIABILITY.md.

Run: .venv/bin/python -m bench.model_faults [--per-variant 14]

The same scenario as tests/e2e/test_model_faults.py (real openai client, real SQLite, fake
OpenAI server on 127.0.0.1), with the counts printed instead of asserted. "Wait" is from the
message reaching the engine to the one failure message, for faults that reached the user.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bots.app import open_runtime
from tests.e2e.model_faults import (
    CEILING,
    FaultyModel,
    RefusingPort,
    Tally,
    run_faults,
    write_config,
)
from tests.fakes.openai_server import FakeOpenAI


async def main(per_variant: int) -> None:
    os.environ["PARLEY_TEST_KEY"] = "sk-bench-faults"
    model = FaultyModel()
    down = RefusingPort()
    with tempfile.TemporaryDirectory() as directory:
        try:
            async with FakeOpenAI(default=model) as fake:
                config = write_config(Path(directory), fake.base_url, down.port)
                async with open_runtime(config) as runtime:
                    started = time.monotonic()
                    outcomes = await run_faults(runtime, model, down, per_variant, "team")
                    wall = time.monotonic() - started
        finally:
            down.release()
    tally = Tally(model, outcomes)
    broken = [o.case.tag for o in outcomes if o.next_turn is None or o.next_turn.error]
    print(tally.table())
    print(
        f"\n{tally.total} faults in {len(outcomes)} conversations, {wall:.1f} s wall; "
        f"ceiling {CEILING:.2f} s; next message failed in {len(broken)} threads"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-variant", type=int, default=14)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    asyncio.run(main(parser.parse_args().per_variant))
