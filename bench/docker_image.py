"""The image's health probe and `docker stop`, timed on a Slack bot running against the fakes.

Run (a Docker daemon and a built image needed):
    .venv/bin/python -m bench.docker_image --image parley [--runs 5]

Each run starts a container with `--network host` (the fakes listen on 127.0.0.1), waits until
its Socket Mode connection is open, times `docker exec NAME parley health` five times, then
times `docker stop NAME` with one reply in flight that ends within the shutdown wait, and
prints the exit code and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tests.e2e.slack_env import write_slack_config
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack, wait_until


async def docker(*args: str) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        "docker", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await child.communicate()
    return await child.wait(), out.decode(errors="replace")


async def timed(*args: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    code, out = await docker(*args)
    return time.perf_counter() - started, code, out


async def one_run(image: str, folder: Path) -> tuple[list[float], float, str]:
    async with FakeSlack() as slack, FakeOpenAI() as model:
        slack.add_user("U0ALICE", "Alice")
        slack.add_channel("C0GENERAL", "general")
        model.default = Script(chunks=tuple(f"w{n} " for n in range(10)), delay_between_chunks=0.2)
        config = write_slack_config(folder, slack, model)
        database = str(folder / "data" / "parley.db")
        config.write_text(config.read_text().replace(database, "/app/data/parley.db"))
        config.chmod(0o644)
        os.environ.update(
            PARLEY_TEST_KEY="sk-bench",
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_APP_TOKEN=slack.app_token,
        )
        name = f"parley-bench-{uuid.uuid4().hex[:8]}"
        variables = ("PARLEY_TEST_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
        flags = [flag for variable in variables for flag in ("-e", variable)]
        code, out = await docker(
            "run", "-d", "--name", name, "--network", "host",
            "-v", f"{config}:/app/bots.yaml:ro", *flags, image,
        )  # fmt: skip
        assert code == 0, out
        try:
            await slack.wait_connected(timeout=120)
            # Connected at the fake a moment before the bot counts itself connected.
            while True:
                healthy, _ = await docker("exec", name, "parley", "health")
                if healthy == 0:
                    break
                await asyncio.sleep(0.1)
            probes = []
            for _ in range(5):
                took, code, out = await timed("exec", name, "parley", "health")
                assert code == 0, out
                probes.append(took)
            root = slack.next_ts()
            await slack.send_event(
                {
                    "type": "app_mention", "user": "U0ALICE", "ts": root, "event_ts": root,
                    "text": f"<@{slack.bot_user_id}> count", "channel": "C0GENERAL",
                    "channel_type": "channel", "team": slack.team_id,
                },
                event_id=f"Ev{uuid.uuid4().hex[:10]}",
            )  # fmt: skip
            await wait_until(
                lambda: any(
                    "w0" in (m.markdown_text or "") for m in slack.thread("C0GENERAL", root)
                )
            )
            stop, code, out = await timed("stop", name)
            assert code == 0, out
            _, exit_code = await docker("inspect", "--format", "{{.State.ExitCode}}", name)
            _, logs = await docker("logs", name)
            stop_line = next((line for line in logs.splitlines() if "stopped in" in line), "")
            return probes, stop, f"exit {exit_code.strip()}: {stop_line[-120:]}"
        finally:
            await docker("rm", "-f", name)


def _shown(slack: FakeSlack, root: str) -> str:
    return " ".join(m.markdown_text or "" for m in slack.thread("C0GENERAL", root))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="parley")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    probes: list[float] = []
    stops: list[float] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            os.chmod(folder, 0o755)
            run_probes, stop, outcome = await one_run(args.image, Path(folder))
        probes += run_probes
        stops.append(stop)
        print(f"stop {stop:.2f} s ({outcome}); health {', '.join(f'{p:.2f}' for p in run_probes)}")
    print(f"{args.image}: health probe median {statistics.median(probes):.2f} s (n={len(probes)})")
    print(f"{args.image}: docker stop median {statistics.median(stops):.2f} s (n={len(stops)})")


if __name__ == "__main__":
    asyncio.run(main())
