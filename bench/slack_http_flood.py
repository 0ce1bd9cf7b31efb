"""A real `parley run` in Slack HTTP mode flooded with half-sent requests under an fd limit.

Run: .venv/bin/python -m bench.slack_http_flood [--connections 1100] [--nofile 1024] [--tree .]

It starts the fake Slack and model in this process, runs `parley run` from `--tree` under
`prlimit --nofile`, opens `--connections` connections that each send a request line and
stop, then sends one signed event and asks /healthz (15 s each). It prints whether both
were answered, whether the reply was posted and how many lines Parley logged, among them
asyncio's "socket.accept() out of system resource". Raise this shell's own limit first
(`ulimit -n 4096`): the flood's client sockets count against it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from tests.e2e.slack_env import CONFIG, GENERAL, SIGNING_SECRET
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_signing import signed_headers

ASK_SECONDS = 15.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(directory: Path, slack: FakeSlack, openai: FakeOpenAI, port: int, mon: int) -> Path:
    mode = f"signing_secret: ${{SLACK_SIGNING_SECRET}}\n    http: {{host: 127.0.0.1, port: {port}}}"
    path = directory / "bots.yaml"
    path.write_text(
        CONFIG.format(
            openai_url=openai.base_url,
            slack_url=slack.api_url,
            database=directory / "parley.db",
            mode=mode,
            extra=f"monitoring: {{host: 127.0.0.1, port: {mon}}}\n",
        )
    )
    return path


async def _answered(what: str, ask: Callable[[], Awaitable[int]]) -> None:
    try:
        async with asyncio.timeout(ASK_SECONDS):
            print(f"{what}: HTTP {await ask()}")
    except (TimeoutError, aiohttp.ClientError) as error:
        print(f"{what}: not answered ({type(error).__name__})")


async def _status(session: aiohttp.ClientSession, url: str, body: bytes | None = None) -> int:
    if body is None:
        async with session.get(url) as response:
            return response.status
    headers = signed_headers(body, SIGNING_SECRET)
    async with session.post(url, data=body, headers=headers) as response:
        return response.status


async def _healthy(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            if await _status(session, url) == 200:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)  # polling a process that is starting: nothing to await
    raise SystemExit("parley run never became healthy")


async def _flood(port: int, count: int) -> list[asyncio.StreamWriter]:
    held = []
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /slack/events HTTP/1.1\r\n")
        held.append(writer)
    return held


async def main(args: argparse.Namespace) -> None:
    slack, openai = FakeSlack(), FakeOpenAI()
    await slack.start()
    await openai.start()
    slack.add_user("U0ALICE", "Alice")
    slack.add_channel(GENERAL, "general")
    port, mon = _free_port(), _free_port()
    directory = Path(tempfile.mkdtemp(prefix="parley-flood-"))
    config = _config(directory, slack, openai, port, mon)
    env = dict(os.environ, PYTHONPATH=str(args.tree), PARLEY_TEST_KEY="sk-test-slack")
    env.update(SLACK_BOT_TOKEN=slack.bot_token, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    log_path = directory / "parley.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *("prlimit", f"--nofile={args.nofile}:{args.nofile}", sys.executable),
            *("-m", "cli", "run", "--config", str(config)),
            cwd=args.tree, env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            async with aiohttp.ClientSession() as session:
                await _healthy(session, f"http://127.0.0.1:{mon}/healthz")
                held = await _flood(port, args.connections)
                print(f"{len(held)} half-sent connections open")
                openai.enqueue(Script(chunks=("pong",)))
                ts = "1700000000.000100"
                event = {
                    **{"type": "app_mention", "user": "U0ALICE", "text": "<@UBOT> ping"},
                    **{"ts": ts, "event_ts": ts, "channel": GENERAL, "channel_type": "channel"},
                }
                body = json.dumps(slack.event_callback(event)).encode()
                events_url = f"http://127.0.0.1:{port}/slack/events"
                await _answered("signed event", lambda: _status(session, events_url, body))
                await _answered(
                    "/healthz", lambda: _status(session, f"http://127.0.0.1:{mon}/healthz")
                )
                for _ in range(150):
                    if slack.posted(GENERAL):
                        break
                    await asyncio.sleep(0.1)  # the reply comes from another process
                for writer in held:
                    writer.close()
        finally:
            process.terminate()
            await process.wait()
    print(f"replies posted: {[m.text for m in slack.posted(GENERAL)]}")
    text = log_path.read_text(errors="replace")
    lost = text.count("out of system resource")
    told = text.count("max_connections")
    print(f"log lines: {text.count(chr(10))}; 'out of system resource': {lost}; cap: {told}")
    await slack.stop()
    await openai.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--tree", type=Path, default=Path.cwd(), help="the checkout to run")
    asyncio.run(main(parser.parse_args()))
