"""N `parley run` replicas as child processes for a benchmark: started, awaited, measured, stopped.

Each is bench/replica_run.py (which is `parley run`) with PARLEY_REPLICA=r1..rN and its log in
a file. However the benchmark ends they are stopped: SIGTERM (Parley's own stop: drain, then
close), SIGKILL after a grace; and each gets SIGTERM from the kernel if the driver dies first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.replica_run import PROFILE_VARIABLE, STATEMENTS_VARIABLE
from tests.fakes.fixtures import _PROXY_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
# Parley drains its turns for limits.shutdown_seconds (8 s by default) before it closes.
STOP_GRACE = 30.0
_PR_SET_PDEATHSIG = 1
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Replica:
    name: str
    process: asyncio.subprocess.Process
    log: Path
    statements: Path | None  # where it writes its SQL statement counts as it stops

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a live process (and of its children it has reaped)."""
    user, system = user_and_system_seconds(pid, children=children)
    return user + system


def user_and_system_seconds(pid: int, *, children: bool = False) -> tuple[float, float]:
    """A live process's CPU in user space and in the kernel (with its reaped children's)."""
    # The command name may hold spaces: the fields start after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])  # utime, stime
    if children:
        user, system = user + int(fields[13]), system + int(fields[14])  # cutime, cstime
    return user / _TICKS, system / _TICKS


def _die_with_parent() -> None:
    # In the child before exec: if the driver is killed outright, the replica is still told.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def _start(
    name: str, config: Path, env: Mapping[str, str], profile: Path | None, statements: bool
) -> Replica:
    variables = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    variables.update(env, PARLEY_REPLICA=name, PYTHONPATH=str(ROOT))
    if profile is not None:
        variables[PROFILE_VARIABLE] = str(profile)
    counts = config.parent / f"{name}.statements.json" if statements else None
    if counts is not None:
        variables[STATEMENTS_VARIABLE] = str(counts)
    log = config.parent / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.replica_run",
            "run", "--config", str(config), "--log-level", "warning",
            cwd=config.parent, env=variables, preexec_fn=_die_with_parent,
            stdout=asyncio.subprocess.PIPE, stderr=sink,
        )  # fmt: skip
    return Replica(name, process, log, counts)


async def wait_ready(replicas: list[Replica], timeout: float) -> None:  # noqa: ASYNC109
    """Until every replica has said "ready"; one that ends or stays silent fails the run."""

    async def ready(replica: Replica) -> None:
        assert replica.process.stdout is not None
        line = await replica.process.stdout.readline()
        if line.strip() != b"ready":
            raise SystemExit(f"replica {replica.name} stopped before ready:\n{replica.log_tail()}")

    try:
        await asyncio.wait_for(asyncio.gather(*(ready(r) for r in replicas)), timeout)
    except TimeoutError:
        tails = "\n".join(f"{r.name}:\n{r.log_tail()}" for r in replicas)
        raise SystemExit(f"replicas not ready after {timeout:.0f} s:\n{tails}") from None


async def _stop(replica: Replica) -> None:
    process = replica.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    await process.wait()


@contextlib.asynccontextmanager
async def replica_group(
    config: Path,
    count: int,
    env: Mapping[str, str],
    profile: Path | None = None,
    statements: bool = False,
) -> AsyncIterator[list[Replica]]:
    """`count` replicas, r1 first; `profile`: r1 runs under cProfile and writes there;
    `statements`: each counts its SQL statements (Replica.statements, once stopped)."""
    replicas: list[Replica] = []
    try:
        for number in range(1, count + 1):
            chosen = profile if number == 1 else None
            replicas.append(await _start(f"r{number}", config, env, chosen, statements))
        yield replicas
    finally:
        stopping = asyncio.ensure_future(asyncio.gather(*(_stop(r) for r in replicas)))
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            await stopping  # a cancelled benchmark still waits until none is left running
            raise
