"""Start-up time of `parley` commands: medians of fresh interpreters, run interleaved.

Run: .venv/bin/python -m bench.cli_start [--runs 5] [--root DIR --module bots.cli]

Each command runs as `python -m <module> ...` with a checkout (this one unless --root) first
on the path, the way the Docker HEALTHCHECK starts `parley health` every 30 s; `--module
bots.cli` measures a checkout from before the command line left bots/. Health asks port 9,
where nothing listens, so it measures start-up and a refused connection, not a server.
`chat` is timed until its prompt is on the screen (stdin a pipe; the local model is only
started by a first message, so it is not part of this figure), then its input is closed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--module", default="cli", help="cli, or bots.cli for an older checkout")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "bots.yaml"
        config.write_text((root / "bots.yaml").read_text() + "monitoring: {port: 9}\n")
        # Each command's arguments and the exit code that shows it really ran.
        commands = {
            "--help": (["--help"], 0),
            "health": (["health", "--config", str(config)], 1),
            "check": (["check", "--config", str(config)], 0),
        }
        env = {**os.environ, "PYTHONPATH": str(root)}
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        seconds["chat"] = []
        chat = [sys.executable, "-m", args.module, "chat", "--config", str(config)]
        for _ in range(args.runs):
            for name, (command, code) in commands.items():
                full = [sys.executable, "-m", args.module, *command]
                seconds[name].append(_wall_time(full, code, root, env))
            seconds["chat"].append(_time_to_prompt(chat, root, {**env, "USER": "bench"}))
    print(f"python -m {args.module} in {root}, {args.runs} runs each, interleaved")
    for name, times in seconds.items():
        runs = " ".join(f"{t:.2f}" for t in times)
        print(f"  {name:<8} median {statistics.median(times):.2f} s   ({runs})")


def _wall_time(command: list[str], code: int, root: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != code:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()}")
    return elapsed


def _time_to_prompt(command: list[str], root: Path, env: dict[str, str]) -> float:
    """Seconds until the chat's prompt ("bench> ", no newline after it) has been written."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    seen = b""
    while not seen.endswith(b"bench> "):
        chunk = os.read(child.stdout.fileno(), 4096)
        if not chunk:
            sys.exit(f"{' '.join(command)} ended before its prompt:\n{seen.decode()}")
        seen += chunk
    elapsed = time.perf_counter() - started
    _, err = child.communicate(b"")
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {child.returncode}:\n{err.decode()}")
    return elapsed


if __name__ == "__main__":
    main()
