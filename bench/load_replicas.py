"""bench.load's burst served by 1 and by 3 Parley replicas (`parley run` processes) on PostgreSQL.

Run: .venv/bin/python -m bench.load_replicas [--replicas 1,3] [--slack 500] [--discord 500]
     [--ordered 50] [--rounds 3] [--profile DIR]

One PostgreSQL with its own default settings (fsync on) for the whole run, a fresh database
for each round. A round is bench.load's: the fake Slack and Discord in one process, the fake
model in another, the same burst and the same checks (every thread exactly its replies, in
order, each having seen the ones before); but Parley is N `parley run` processes, r1..rN,
each with its own Socket Mode connection (the fake Slack deals envelopes round robin, so a
thread's follow-ups reach different replicas) and one of N Discord shards (the fake's servers
are spread so each shard gets its share). The burst starts once the fakes see every
connection and shard and every replica has said it is ready (bench/replica_run.py).

Reported per round and as medians per replica count: the wall time from the first delivery to
the last final reply, turns per second, each replica's CPU seconds over the burst (from
/proc) and their sum per turn, PostgreSQL's CPU over the burst, each replica's peak RSS, the
database's transactions per turn (start-up included) and its size; and the ratio of summed
CPU per turn at the most replicas to that at the fewest. Rounds alternate between the counts
so a busy neighbour hits each alike. `--profile DIR` runs r1 under cProfile (from ready to
its stop) and writes DIR/replicas<N>-round<K>.prof; `--statements` counts the SQL statements
the replicas send over the burst and prints them per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.load import BOTS, start_model
from bench.load_replicas_report import show_medians, show_round, show_statements
from bench.postgres_usage import database_activity, server_cpu_seconds
from bench.replica_group import Replica, replica_group, user_and_system_seconds, wait_ready
from bench.rss import PeakRss
from bench.turns import HELPER_ON_FAKE_MODEL, Fakes
from bots import event_loop
from tests.postgres import create_database, drop_database, embedded_server

CONFIG = (
    HELPER_ON_FAKE_MODEL
    + BOTS
    + """\
    shards: {{count: {shards}, per_replica: 1}}
storage: {{url: "${{PARLEY_BENCH_DATABASE}}"}}
monitoring: {{port: 0}}
"""
)
GUARD = 120.0  # seconds for every replica to connect: a guard only, never reached when well
BURST_GUARD = 300.0  # the fakes give up on missing replies after 120 s of their own


async def one_round(
    server_url: str, replicas: int, arguments: argparse.Namespace
) -> dict[str, Any]:
    database = await create_database(server_url)
    try:
        result = await with_fakes(server_url, database, replicas, arguments)
    finally:
        await drop_database(server_url, database)
    result["replicas"] = replicas
    return result


async def with_fakes(
    server_url: str, database: str, replicas: int, arguments: argparse.Namespace
) -> dict[str, Any]:
    model, openai_url = await start_model(arguments.model_seconds, 5)
    platforms = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load_fakes", str(replicas),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    fakes = Fakes(platforms)
    try:
        urls = await fakes.receive()
        env = {
            "PARLEY_TEST_KEY": "sk-load",
            "SLACK_BOT_TOKEN": urls["bot_token"],
            "SLACK_APP_TOKEN": urls["app_token"],
            "DISCORD_TOKEN": urls["discord_token"],
            "PARLEY_BENCH_DATABASE": database,
        }
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "bots.yaml"
            config.write_text(CONFIG.format(openai_url=openai_url, shards=replicas, **urls))
            profile = _profile_path(arguments, replicas)
            counting = arguments.statements
            async with replica_group(config, replicas, env, profile, counting) as group:
                result = await serve_burst(server_url, group, fakes, arguments)
            result["statements"] = statements_of(group)
            _keep_logs(arguments, group, replicas)
        # Once the replicas are gone: their backends have reported their counts.
        result["database"] = await database_activity(server_url, database)
        return result
    finally:
        for process in (platforms, model):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            await process.wait()


async def serve_burst(
    server_url: str, group: list[Replica], fakes: Fakes, arguments: argparse.Namespace
) -> dict[str, Any]:
    try:
        await fakes.receive(timeout=GUARD)  # every Socket Mode connection and Discord shard
    except TimeoutError:
        tails = "\n".join(f"{r.name}:\n{r.log_tail()}" for r in group)
        raise SystemExit(f"the fakes did not see every replica connect:\n{tails}") from None
    await wait_ready(group, GUARD)
    burst = {"slack": arguments.slack, "discord": arguments.discord}
    burst.update(ordered=arguments.ordered, turns=3)
    cpu_before = [user_and_system_seconds(r.pid) for r in group]
    server_before = server_cpu_seconds(server_url)
    with contextlib.ExitStack() as stack:
        peaks = [stack.enter_context(PeakRss(r.pid)) for r in group]
        await fakes.send(burst)
        result = await fakes.receive(timeout=BURST_GUARD)
    cpu_after = [user_and_system_seconds(r.pid) for r in group]
    pairs = list(zip(cpu_after, cpu_before, strict=True))
    result["cpu_s"] = [sum(after) - sum(before) for after, before in pairs]
    result["system_cpu_s"] = sum(after[1] - before[1] for after, before in pairs)
    result["postgres_cpu_s"] = server_cpu_seconds(server_url) - server_before
    result["peak_rss_mb"] = [peak.peak_mb for peak in peaks]
    result["rss_before_mb"] = [peak.start_mb for peak in peaks]
    return result


def statements_of(group: list[Replica]) -> dict[str, int]:
    """The SQL statements every replica sent over the burst, summed (none when not counted)."""
    total: Counter[str] = Counter()
    for replica in group:
        if replica.statements is not None and replica.statements.exists():
            total.update(json.loads(replica.statements.read_text()))
    return dict(total)


def _keep_logs(arguments: argparse.Namespace, group: list[Replica], replicas: int) -> None:
    """`--logs DIR`: each replica's log (warnings and errors) outlives the round's scratch."""
    folder: Path | None = arguments.logs
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for replica in group:
        kept = folder / f"replicas{replicas}-round{arguments.round}-{replica.name}.log"
        shutil.copyfile(replica.log, kept)


def _profile_path(arguments: argparse.Namespace, replicas: int) -> Path | None:
    folder: Path | None = arguments.profile
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / f"replicas{replicas}-round{arguments.round}.prof").absolute()


async def compare(server_url: str, arguments: argparse.Namespace) -> None:
    # SIGTERM cancels the run like Ctrl-C does, so every process is stopped on the way out.
    this = asyncio.current_task()
    assert this is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    results: dict[int, list[dict[str, Any]]] = {n: [] for n in arguments.replicas}
    for number in range(1, arguments.rounds + 1):
        arguments.round = number
        for replicas in arguments.replicas:
            results[replicas].append(await one_round(server_url, replicas, arguments))
            show_round(number, results[replicas][-1])
    show_medians(results)
    if arguments.statements:
        show_statements(results)
    print("load average now:", " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",")]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"replica counts must be 1 or more, got {text!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=_counts, default=[1, 3], help="e.g. 1,3")
    parser.add_argument("--slack", type=int, default=500, help="Slack conversations")
    parser.add_argument("--discord", type=int, default=500, help="Discord conversations")
    parser.add_argument("--ordered", type=int, default=50, help="of each, with 3 messages")
    parser.add_argument("--rounds", type=int, default=3, help="per replica count")
    parser.add_argument("--model-seconds", type=float, default=1.0, help="per reply")
    parser.add_argument("--profile", type=Path, help="cProfile replica r1 into this folder")
    parser.add_argument("--logs", type=Path, help="keep every replica's log in this folder")
    parser.add_argument(
        "--statements", action="store_true", help="count each SQL statement the replicas send"
    )
    arguments = parser.parse_args()
    with embedded_server(durable=True) as server_url:
        event_loop.run(compare(server_url, arguments))


if __name__ == "__main__":
    main()
