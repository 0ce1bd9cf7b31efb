"""One `parley run` per database: an OS lock on a file beside it, held for the process life."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from core.errors import StoreError


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def runner_lock(database: Path) -> Iterator[None]:
    """Held while a runner serves. A second runner on the same file would take the first
    one's live replies for a killed run's leftovers and mark them interrupted, so it is
    refused. The kernel drops the lock when the process dies, however it dies: a stale lock
    file never blocks a restart. `parley chat` does not take it (it marks only its own bot)."""
    path = lock_path(database)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StoreError(f"could not open the runner lock {path}: {error}") from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise StoreError(
                f"another `parley run` (pid {holder}) is already serving {database}; "
                "stop it first, or give this one its own storage.path"
            ) from None
        with contextlib.suppress(OSError):
            # Only to name the holder; on a full disk the lock holds without it.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
